/**
 * Writes a Hugging Face model folder: config.json (no quantization_config), model.safetensors or
 * shards with model.safetensors.index.json past maxShardSize, in f32, f16 or bf16. Every file is
 * written to a temporary name and renamed, so an interrupted save never leaves a corrupt model.
 */
import { f32ToBf16, f32ToF16, planShards, shardFileName, writeSafetensors, SAFETENSORS_INDEX_FILE, type LazySafetensorsEntry } from '@q/core';
import { atomicWriteFile, atomicWriteWith } from '../files';
import type { ModelConfig } from '../config';
import { configJsonText } from './auto-model';
import type { CausalLM } from './causal-lm';

export type SaveDtype = 'float32' | 'float16' | 'bfloat16';

/** One tensor to save: its f32 data is produced when its turn comes (read back from the GPU). */
export type SaveEntry = [name: string, shape: number[], data: () => Promise<Float32Array>];

export interface SaveModelOptions {
  dtype?: SaveDtype;
  /** Bytes per shard; transformers' default is 5 GB. */
  maxShardSize?: number;
  /** generation_config.json content, when there is one to keep. */
  generationConfig?: Record<string, unknown> | null;
}

const ST_DTYPE = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' } as const;
const BYTES = { float32: 4, float16: 2, bfloat16: 2 } as const;

export async function saveModelFolder(dir: string, cfg: ModelConfig, entries: SaveEntry[], o: SaveModelOptions = {}): Promise<string[]> {
  const fs = await import(/* @vite-ignore */ 'node:fs/promises' as string);
  const path = await import(/* @vite-ignore */ 'node:path' as string);
  await fs.mkdir(dir, { recursive: true });
  const dtype = o.dtype ?? 'float32';
  const sized = entries.map(([n, s]) => [n, s.reduce((a, b) => a * b, 1) * BYTES[dtype]] as [string, number]);
  const shards = planShards(sized, o.maxShardSize ?? 5_000_000_000);
  const files = shards.length === 1 ? ['model.safetensors'] : shards.map((_, i) => shardFileName(i, shards.length));
  const byName = new Map(entries.map((e) => [e[0], e]));
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const part: Record<string, LazySafetensorsEntry> = {};
    for (const n of shards[i]!) {
      const [, shape, data] = byName.get(n)!;
      part[n] = {
        dtype: ST_DTYPE[dtype],
        shape,
        data: async () => {
          const f = await data();
          return dtype === 'float32' ? f : dtype === 'float16' ? f32ToF16(f) : f32ToBf16(f);
        },
      };
      weightMap[n] = files[i]!;
    }
    await atomicWriteWith(path.join(dir, files[i]!), (sink) => writeSafetensors(part, sink, { format: 'pt' }));
  }
  if (shards.length > 1) {
    const total = sized.reduce((a, [, b]) => a + b, 0);
    await atomicWriteFile(path.join(dir, SAFETENSORS_INDEX_FILE), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
  }
  await atomicWriteFile(path.join(dir, 'config.json'), configJsonText(cfg, dtype));
  if (o.generationConfig) await atomicWriteFile(path.join(dir, 'generation_config.json'), `${JSON.stringify(o.generationConfig, null, 2)}\n`);
  return files;
}

/**
 * model.save_pretrained(dir) for a full-precision model (every projection dense).
 *
 * @example
 * ```ts
 * await savePretrained(model, 'out/merged', { dtype: 'float16' });
 * ```
 */
export async function savePretrained(model: CausalLM, dir: string, o: SaveModelOptions = {}): Promise<string[]> {
  const entries: SaveEntry[] = model.namedParameters().map(([n, t]) => [n, [...t.shape], async () => (await t.read()) as Float32Array]);
  return saveModelFolder(dir, model.config, entries, o);
}
