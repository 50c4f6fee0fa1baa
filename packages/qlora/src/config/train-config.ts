/**
 * The whole `qlora train` config, resolved: each section validated by its owner (BitsAndBytesConfig
 * by @q/nf4, LoraConfig by @q/lora, TrainingArguments + SFTConfig by @q/sft), so every error names
 * the section, the field and the allowed values. Keys may be camelCase or Hugging Face snake_case.
 *
 * With no model named, the built-in demo's settings fill whatever the config leaves out
 * (see ../builtin/builtin-defaults.ts); with a model folder, the libraries' own defaults apply.
 */
import { ConfigError, toCamelCase } from '@q/core';
import { validateBitsAndBytesConfig, type BitsAndBytesConfig } from '@q/nf4';
import { validateLoraConfig, type LoraConfig } from '@q/lora';
import { validateSftConfig, TRAINING_ARGUMENTS_ALIASES, type SFTConfig } from '@q/sft';
import { BUILTIN_LORA, BUILTIN_QUANTIZATION, BUILTIN_TEST_SIZE } from '../builtin/builtin-defaults';
import { builtinTraining } from '../builtin/builtin-model';
import { splitSections } from './sections';
import { validateModelSection, type ModelSection } from './model-section';
import { validateDatasetSection, type DatasetSection } from './dataset-section';
import { validateMergeSection, type MergeSection } from './merge-section';
import { validatePreviewSection, type PreviewSection } from './preview-section';
import { validateEvalSection, type EvalSection } from './eval-section';

export interface TrainConfig {
  model: ModelSection;
  /** null when the config has no quantization_config and no model default asks for one: full-precision LoRA. */
  quantizationConfig: BitsAndBytesConfig | null;
  lora: LoraConfig;
  training: SFTConfig;
  dataset: DatasetSection;
  merge: MergeSection;
  preview: PreviewSection;
  /** Loss, perplexity and exact match on the held-out rows before and after training. */
  eval: EvalSection;
  /** True when the built-in model is used. */
  builtin: boolean;
}

export interface ParseTrainConfigOptions {
  /** Where validators' notes go (ignored keys, unimplemented options). Default console.warn. */
  warn?: (message: string) => void;
  /** Name of the config in error messages. Default 'qlora config'. */
  source?: string;
}

function asObject(v: unknown, section: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(section, 'a section of named fields (an object)', v);
  return v as Record<string, unknown>;
}

/** Fills `defaults` (camelCase) under `given` (any spelling) without naming a field twice. */
function under(defaults: Record<string, unknown>, given: Record<string, unknown>, aliases: Record<string, string> = {}): Record<string, unknown> {
  const set = new Set(Object.keys(given).map((k) => aliases[k] ?? aliases[toCamelCase(k)] ?? toCamelCase(k)));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(defaults)) if (!set.has(k)) out[k] = v;
  return { ...out, ...given };
}

function prefixed<T>(section: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // The package validators name their own config (LoraConfig, SFTConfig); say which section too.
    if (e instanceof Error && !e.message.startsWith(`[${section}]`)) e.message = `[${section}] ${e.message}`;
    throw e;
  }
}

/**
 * Validates a parsed config file.
 *
 * @example
 * ```ts
 * const cfg = parseTrainConfig({
 *   model: 'models/Qwen2.5-0.5B-Instruct',
 *   quantization_config: { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true },
 *   lora: { r: 64, lora_alpha: 32, lora_dropout: 0.1, target_modules: ['q_proj', 'k_proj', 'v_proj'] },
 *   training: { output_dir: 'results', per_device_train_batch_size: 2, learning_rate: 2e-4, max_steps: 100 },
 *   dataset: { path: 'chat.jsonl', test_size: 0.1 },
 * });
 * cfg.lora.loraAlpha // 32
 * ```
 */
export function parseTrainConfig(raw: unknown, o: ParseTrainConfigOptions = {}): TrainConfig {
  const warn = o.warn ?? ((m: string) => console.warn(m));
  const s = splitSections(raw, o.source);
  const model = prefixed('model', () => validateModelSection(s.model));
  const builtin = model.path === null;

  const qGiven = s.quantizationConfig === undefined || s.quantizationConfig === null ? null : asObject(s.quantizationConfig, 'quantization_config');
  const qRaw = builtin ? under({ ...BUILTIN_QUANTIZATION }, qGiven ?? {}, { _load_in_4bit: 'loadIn4bit' }) : qGiven;
  const quantizationConfig = qRaw === null ? null : prefixed('quantization_config', () => validateBitsAndBytesConfig(qRaw));

  const loraGiven = asObject(s.lora, 'lora');
  const lora = prefixed('lora', () => validateLoraConfig(builtin ? under({ ...BUILTIN_LORA }, loraGiven) : loraGiven, { purpose: 'train' }));

  // The built-in chat set holds out BUILTIN_TEST_SIZE rows unless the config says otherwise.
  const dsGiven = s.dataset;
  const builtinData = dsGiven === undefined || dsGiven === null || (typeof dsGiven === 'object' && !Array.isArray(dsGiven) && !Object.keys(dsGiven).some((k) => ['path', 'dataFiles', 'data_files', 'files'].includes(k)));
  const dataset = prefixed('dataset', () =>
    validateDatasetSection(builtinData ? under({ testSize: BUILTIN_TEST_SIZE }, asObject(dsGiven, 'dataset'), { test_size: 'testSize' }) : dsGiven),
  );
  const trainGiven = { ...asObject(s.training, 'training') };
  if (dataset.textField !== null) {
    const inTraining = Object.keys(trainGiven).find((k) => toCamelCase(k) === 'datasetTextField');
    if (inTraining !== undefined && trainGiven[inTraining] !== dataset.textField) {
      throw new ConfigError('dataset.text_field', `the same column as training.${inTraining} (${JSON.stringify(trainGiven[inTraining])}), or only one of them`, dataset.textField, o.source ?? 'qlora config');
    }
    if (inTraining === undefined) trainGiven.datasetTextField = dataset.textField;
  }
  const aliases: Record<string, string> = { ...TRAINING_ARGUMENTS_ALIASES, max_seq_length: 'maxLength' };
  const trainRaw = builtin ? under(builtinTraining(dataset.testSize > 0), trainGiven, aliases) : trainGiven;
  const training = prefixed('training', () => validateSftConfig(trainRaw, { warn }));

  const merge = prefixed('merge', () => validateMergeSection(s.merge, false));
  const preview = prefixed('preview', () => validatePreviewSection(s.preview));
  const evalSection = prefixed('eval', () => validateEvalSection(s.eval, builtin));
  return { model, quantizationConfig, lora, training, dataset, merge, preview, eval: evalSection, builtin };
}
