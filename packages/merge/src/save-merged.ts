/**
 * Writes a merged model as a Hugging Face folder that transformers loads: config.json without
 * quantization_config, model.safetensors (sharded past maxShardSize), generation_config.json and
 * the tokenizer files of the base model.
 */
import { ValueError } from '@q/core';
import { pathExists, QuantLinear, savePretrained, type CausalLM } from '@q/model';
import { nodeModules } from '@q/model';
import type { MergeDtype } from './merge-lora';

export interface SaveMergedOptions {
  dtype?: MergeDtype;
  /** The base model's folder, whose tokenizer and generation config files are copied. */
  tokenizerDir?: string;
  maxShardSize?: number;
  /** Writes more files into the folder before it is renamed into place (e.g. a tokenizer). */
  alsoWrite?: (dir: string) => Promise<unknown>;
}

const COPIED = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'chat_template.jinja', 'generation_config.json'];

/**
 * Writes every tensor of the architecture; a model that still holds 4-bit projections (merged with
 * `requantize`) is refused with a pointer to saveQuantizedPretrained, which writes them as they are.
 * The folder appears whole or not at all (see writeFolderAtomic), tokenizer files included.
 *
 * @example
 * ```ts
 * await saveMerged((await mergeAndUnload(peft, { dtype: 'float16' })).model, 'out/merged', { dtype: 'float16', tokenizerDir: baseDir });
 * ```
 */
export async function saveMerged(model: CausalLM, dir: string, o: SaveMergedOptions = {}): Promise<string[]> {
  const quantized = model.linearSlots().filter((s) => s.get() instanceof QuantLinear);
  if (quantized.length) {
    throw new ValueError(`saveMerged(${dir}): ${quantized.length} projections are still 4-bit (${quantized[0]!.name}, ...); a re-quantized merge is written with saveQuantizedPretrained`);
  }
  const copied: string[] = [];
  const files = await savePretrained(model, dir, {
    dtype: o.dtype ?? 'float32',
    maxShardSize: o.maxShardSize,
    alsoWrite: async (tmp) => {
      if (o.tokenizerDir) {
        const { fs, path } = await nodeModules();
        for (const f of COPIED) {
          const src = path.join(o.tokenizerDir, f);
          if (await pathExists(src)) {
            await fs.copyFile(src, path.join(tmp, f));
            copied.push(f);
          }
        }
      }
      await o.alsoWrite?.(tmp);
    },
  });
  return [...files, ...copied];
}
