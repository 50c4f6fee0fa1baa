/**
 * Writes a merged model as a Hugging Face folder that transformers loads: config.json without
 * quantization_config, model.safetensors (sharded past maxShardSize), generation_config.json and
 * the tokenizer files of the base model.
 */
import { pathExists, savePretrained, type CausalLM } from '@q/model';
import { nodeModules } from '@q/model';
import type { MergeDtype } from './merge-lora';

export interface SaveMergedOptions {
  dtype?: MergeDtype;
  /** The base model's folder, whose tokenizer and generation config files are copied. */
  tokenizerDir?: string;
  maxShardSize?: number;
}

const COPIED = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'chat_template.jinja', 'generation_config.json'];

export async function saveMerged(model: CausalLM, dir: string, o: SaveMergedOptions = {}): Promise<string[]> {
  const files = await savePretrained(model, dir, { dtype: o.dtype ?? 'float32', maxShardSize: o.maxShardSize });
  if (o.tokenizerDir) {
    const { fs, path } = await nodeModules();
    for (const f of COPIED) {
      const src = path.join(o.tokenizerDir, f);
      if (await pathExists(src)) {
        await fs.copyFile(src, path.join(dir, f));
        files.push(f);
      }
    }
  }
  return files;
}
