/**
 * SFTConfig: trl's SFT options on top of {@link TrainingArguments}, with trl's defaults,
 * including the TrainingArguments defaults trl overrides (learning rate 2e-5, logging every 10
 * steps, gradient checkpointing on, bf16 unless fp16).
 */
import { checkBoolean, checkEnum, checkInteger, checkString, ConfigError, withDefaults } from '@q/core';
import { TRAINING_ARGUMENTS_ALIASES, TRAINING_ARGUMENTS_DEFAULTS, type TrainingArguments } from './training-arguments';
import { checkTrainingFields, dropIgnoredKeys, type ValidateArgsOptions } from './validate-training-arguments';

/** trl's SFT options. Each field's doc gives trl's default. */
export interface SftOptions {
  /** Tokens per sequence: longer ones are truncated from the right; null = no truncation. Default 1024 (formerly maxSeqLength). */
  maxLength: number | null;
  /** Column holding plain text for language-modeling datasets. Default 'text'. */
  datasetTextField: string;
  /** Pack several sequences into blocks of maxLength. Default false. */
  packing: boolean;
  /** How to pack: 'bfd' (best-fit decreasing) or 'wrapped'. Default 'bfd'. */
  packingStrategy: 'bfd' | 'wrapped';
  /** Pack the eval set; null = same as packing. Default null. */
  evalPacking: boolean | null;
  /** Flatten a batch into one sequence without padding. Default false. */
  paddingFree: boolean;
  /** Pad sequence lengths up to a multiple of this. Default null. */
  padToMultipleOf: number | null;
  /** Loss on completions only; null = on for prompt-completion rows, off otherwise. Default null. */
  completionOnlyLoss: boolean | null;
  /** Loss on assistant turns only (conversational rows). Default false. */
  assistantOnlyLoss: boolean;
  /** End-of-turn token; null = the tokenizer's eos. Default null. */
  eosToken: string | null;
  /** Padding token; null = the tokenizer's pad, else its eos. Default null. */
  padToken: string | null;
  /** Shuffle the dataset before training. Default false. */
  shuffleDataset: boolean;
  /** Loss: 'nll' (only 'nll' is implemented). Default 'nll'. */
  lossType: 'nll';
  /** Chat template file or tokenizer folder to use instead of the model's. Default null. */
  chatTemplatePath: string | null;
  /** Options for dataset preparation ({ skipPrepareDataset }). Default null. */
  datasetKwargs: Record<string, unknown> | null;
}

/** {@link TrainingArguments} plus trl's SFT options. */
export interface SFTConfig extends TrainingArguments, SftOptions {}

/** Defaults of {@link SFTConfig}, in one place. `bf16` is resolved to `!fp16` when not given. */
export const SFT_CONFIG_DEFAULTS: Readonly<SFTConfig> = Object.freeze({
  ...TRAINING_ARGUMENTS_DEFAULTS,
  learningRate: 2e-5,
  loggingSteps: 10,
  gradientCheckpointing: true,
  maxLength: 1024,
  datasetTextField: 'text',
  packing: false,
  packingStrategy: 'bfd',
  evalPacking: null,
  paddingFree: false,
  padToMultipleOf: null,
  completionOnlyLoss: null,
  assistantOnlyLoss: false,
  eosToken: null,
  padToken: null,
  shuffleDataset: false,
  lossType: 'nll',
  chatTemplatePath: null,
  datasetKwargs: null,
} satisfies SFTConfig);

const SOURCE = 'SFTConfig';
const SFT_IGNORED = ['dataset_num_proc', 'model_init_kwargs', 'activation_offloading', 'dataset_batch_size'];

/**
 * Fills trl's defaults and validates an SFT config (TrainingArguments fields included) given in
 * camelCase or snake_case. `max_seq_length` is accepted as the old name of `maxLength`.
 * Throws {@link ConfigError} naming the field and the allowed values.
 *
 * @example
 * ```ts
 * const cfg = validateSftConfig({ output_dir: 'out', max_seq_length: 512, dataset_text_field: 'text' })
 * cfg.maxLength // 512
 * cfg.bf16 // true (trl: bf16 unless fp16)
 * ```
 */
export function validateSftConfig(input: unknown = {}, options: ValidateArgsOptions = {}): SFTConfig {
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const kept = dropIgnoredKeys(input, warn, SOURCE) as Record<string, unknown> | null;
  const rest: Record<string, unknown> = {};
  if (kept !== null && typeof kept === 'object' && !Array.isArray(kept)) {
    for (const [k, v] of Object.entries(kept)) {
      if (SFT_IGNORED.includes(k) || SFT_IGNORED.includes(k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))) {
        warn(`${SOURCE}: "${k}" has no effect in @q and is ignored`);
      } else {
        rest[k] = v;
      }
    }
  }
  const given = kept === null || typeof kept !== 'object' || Array.isArray(kept) ? kept : rest;
  // bf16 defaults to "not fp16" (trl), so it is filled only after reading fp16.
  const c = withDefaults(given, { ...SFT_CONFIG_DEFAULTS, bf16: null } as unknown as SFTConfig, SOURCE, {
    aliases: { ...TRAINING_ARGUMENTS_ALIASES, max_seq_length: 'maxLength' },
  });
  if (c.bf16 === null) c.bf16 = c.fp16 !== true;
  const checked = checkTrainingFields(c, SOURCE, warn);
  if (c.maxLength !== null) checkInteger(c.maxLength, 'maxLength', { min: 1 }, SOURCE);
  checkString(c.datasetTextField, 'datasetTextField', SOURCE);
  checkBoolean(c.packing, 'packing', SOURCE);
  checkEnum(c.packingStrategy, 'packingStrategy', ['bfd', 'wrapped'] as const, SOURCE);
  if (c.packing && c.maxLength === null) {
    throw new ConfigError('maxLength', 'a block length (integer >= 1) when packing is true', null, SOURCE);
  }
  if (c.evalPacking !== null) checkBoolean(c.evalPacking, 'evalPacking', SOURCE);
  checkBoolean(c.paddingFree, 'paddingFree', SOURCE);
  if (c.padToMultipleOf !== null) checkInteger(c.padToMultipleOf, 'padToMultipleOf', { min: 1 }, SOURCE);
  if (c.completionOnlyLoss !== null) checkBoolean(c.completionOnlyLoss, 'completionOnlyLoss', SOURCE);
  checkBoolean(c.assistantOnlyLoss, 'assistantOnlyLoss', SOURCE);
  if (c.eosToken !== null) checkString(c.eosToken, 'eosToken', SOURCE);
  if (c.padToken !== null) checkString(c.padToken, 'padToken', SOURCE);
  checkBoolean(c.shuffleDataset, 'shuffleDataset', SOURCE);
  if (c.lossType !== 'nll') {
    throw new ConfigError('lossType', '"nll" (other losses such as "dft" are not implemented)', c.lossType, SOURCE);
  }
  if (c.chatTemplatePath !== null) checkString(c.chatTemplatePath, 'chatTemplatePath', SOURCE);
  if (c.datasetKwargs !== null && (typeof c.datasetKwargs !== 'object' || Array.isArray(c.datasetKwargs))) {
    throw new ConfigError('datasetKwargs', 'an object of options or null', c.datasetKwargs, SOURCE);
  }
  return checked;
}
