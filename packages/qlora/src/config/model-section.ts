/** The `model` section: which causal LM to fine-tune, and its tokenizer. */
import { checkInteger, checkString, withDefaults } from '@q/core';

export interface ModelSection {
  /** A Hugging Face model folder (config.json + safetensors). null = the built-in random-initialised Qwen2 model. Default null. */
  path: string | null;
  /** Tokenizer folder; null = the model folder (or the Qwen tokenizer for the built-in model). Default null. */
  tokenizer: string | null;
  /** Seed of the built-in model's random weights (ignored for a model folder). Default 0. */
  seed: number;
}

export const MODEL_SECTION_DEFAULTS: Readonly<ModelSection> = Object.freeze({ path: null, tokenizer: null, seed: 0 });

const SOURCE = 'model';

/**
 * Accepts a path string (`model: models/Qwen2.5-0.5B-Instruct`) or an object.
 *
 * @example
 * ```ts
 * validateModelSection('models/Qwen2.5-0.5B-Instruct') // { path: 'models/Qwen2.5-0.5B-Instruct', tokenizer: null, seed: 0 }
 * validateModelSection({ model_name_or_path: 'm' }).path // 'm'
 * ```
 */
export function validateModelSection(input: unknown): ModelSection {
  const obj = typeof input === 'string' ? { path: input } : (input ?? {});
  const m = withDefaults(obj, { ...MODEL_SECTION_DEFAULTS }, SOURCE, {
    aliases: { name_or_path: 'path', model_name_or_path: 'path', pretrained_model_name_or_path: 'path', tokenizer_name_or_path: 'tokenizer' },
  });
  if (m.path !== null) checkString(m.path, 'path', SOURCE);
  if (m.tokenizer !== null) checkString(m.tokenizer, 'tokenizer', SOURCE);
  checkInteger(m.seed, 'seed', { min: 0 }, SOURCE);
  return m;
}
