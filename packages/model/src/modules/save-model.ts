import { nodeModules } from '../files';
/**
 * Writes a Hugging Face model folder: config.json (no quantization_config), model.safetensors or
 * shards with model.safetensors.index.json past maxShardSize, in f32, f16 or bf16. The folder is
 * written whole beside the target and renamed in (writeFolderAtomic): an interrupted save leaves
 * the old folder or the new one, and no stale shard or index of an earlier save survives.
 */
import { f32ToBf16, f32ToF16, planShards, shardFileName, writeSafetensors, SAFETENSORS_INDEX_FILE, type LazySafetensorsEntry } from '@q/core';
import { atomicWriteFile, atomicWriteWith, writeFolderAtomic } from '../files';
import type { ModelConfig } from '../config';
import { configJsonText } from './auto-model';
import type { CausalLM } from './causal-lm';
import { checkTensorSet } from './check-tensor-set';

export type SaveDtype = 'float32' | 'float16' | 'bfloat16';

/** One tensor to save: its f32 data is produced when its turn comes (read back from the GPU). */
export type SaveEntry = [name: string, shape: number[], data: () => Promise<Float32Array>];

export interface SaveModelOptions {
  dtype?: SaveDtype;
  /** Bytes per shard; transformers' default is 5 GB. */
  maxShardSize?: number;
  /** generation_config.json content, when there is one to keep. */
  generationConfig?: Record<string, unknown> | null;
  /** Writes more files (the tokenizer) into the folder before it is renamed into place. */
  alsoWrite?: (dir: string) => Promise<unknown>;
}

/**
 * Files a model save owns in its folder: replaced or removed by a new save. Anything else already
 * in the folder (a user's notes, a training run's checkpoints) is kept.
 */
export const MODEL_FOLDER_FILE = /^(config\.json|generation_config\.json|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json|pytorch_model.*\.bin(\.index\.json)?|tokenizer.*|special_tokens_map\.json|vocab\.json|merges\.txt|chat_template\.jinja|added_tokens\.json|adapter_config\.json|adapter_model\.(safetensors|bin))$/;

const ST_DTYPE = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' } as const;
const BYTES = { float32: 4, float16: 2, bfloat16: 2 } as const;

export async function saveModelFolder(dir: string, cfg: ModelConfig, entries: SaveEntry[], o: SaveModelOptions = {}): Promise<string[]> {
  // Refused before anything is written: an incomplete model folder must never appear.
  checkTensorSet(cfg, entries.map(([n, s]) => [n, s]), dir);
  return writeFolderAtomic(
    dir,
    async (tmp) => {
      const files = await writeModelFiles(tmp, cfg, entries, o);
      await o.alsoWrite?.(tmp);
      return files;
    },
    { keep: (n) => !MODEL_FOLDER_FILE.test(n) },
  );
}

/** The files of {@link saveModelFolder}, written straight into `dir` (e.g. a folder being built). */
export async function writeModelFiles(dir: string, cfg: ModelConfig, entries: SaveEntry[], o: SaveModelOptions = {}): Promise<string[]> {
  const { fs, path } = await nodeModules();
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
 * model.save_pretrained(dir) for a full-precision model (every projection dense). A model that
 * still holds 4-bit projections is refused: their weights are not dense parameters, so they would
 * be left out (use saveQuantizedPretrained, or merge, which dequantizes them).
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

/**
 * Writes a pre-quantized '-bnb-4bit' model folder: the 4-bit projections in bitsandbytes'
 * tensor layout, everything else in full precision, and config.json with quantization_config.
 *
 * @example
 * ```ts
 * const model = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: { loadIn4bit: true } });
 * await saveQuantizedPretrained(model, 'out/model-bnb-4bit', { loadIn4bit: true, bnb4bitQuantType: 'nf4' });
 * ```
 */
export async function saveQuantizedPretrained(
  model: CausalLM,
  dir: string,
  quantizationConfig: Record<string, unknown>,
  o: Pick<SaveModelOptions, 'alsoWrite'> = {},
): Promise<void> {
  await writeFolderAtomic(
    dir,
    async (tmp) => {
      await writeQuantizedFiles(model, tmp, quantizationConfig);
      await o.alsoWrite?.(tmp);
    },
    { keep: (n) => !MODEL_FOLDER_FILE.test(n) },
  );
}

async function writeQuantizedFiles(model: CausalLM, dir: string, quantizationConfig: Record<string, unknown>): Promise<void> {
  const { path } = await nodeModules();
  const { QuantLinear } = await import('./quant-linear');
  const { toQuantizationConfigJson, validateBitsAndBytesConfig } = await import('@q/nf4');
  const entries: Record<string, LazySafetensorsEntry> = {};
  for (const slot of model.linearSlots()) {
    const l = slot.get();
    if (l instanceof QuantLinear) {
      for (const [n, t] of Object.entries(await l.bnbTensors(slot.name))) entries[n] = t;
      if (l.bias) {
        const b = l.bias;
        entries[`${slot.name}.bias`] = { dtype: 'F32', shape: [...b.shape], data: async () => (await b.read()) as Float32Array };
      }
    }
  }
  for (const [n, t] of model.namedParameters()) {
    if (n in entries) continue;
    entries[n] = { dtype: 'F32', shape: [...t.shape], data: async () => (await t.read()) as Float32Array };
  }
  // 4-bit weights are stored packed; their quant_state, absmax and quant_map sit beside them.
  const packed = new Set(Object.keys(entries).filter((n) => `${n}.absmax` in entries));
  checkTensorSet(model.config, Object.entries(entries).map(([n, e]) => [n, e.shape]), dir, {
    packed: (n) => packed.has(n),
    extra: (n) => [...packed].some((w) => n.startsWith(`${w}.`)),
  });
  await atomicWriteWith(path.join(dir, 'model.safetensors'), (sink) => writeSafetensors(entries, sink, { format: 'pt' }));
  const qc = toQuantizationConfigJson(validateBitsAndBytesConfig({ ...quantizationConfig, loadIn4bit: true }));
  const json = JSON.parse(configJsonText(model.config, 'float32')) as Record<string, unknown>;
  json.quantization_config = { ...qc, quant_method: 'bitsandbytes' };
  await atomicWriteFile(path.join(dir, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
}
