/**
 * The top level of a `qlora train` config: one section per step of the seed tutorial. Each
 * section is checked by the validator of the package that owns it; this file only checks that
 * every top-level key is a known section (a typo such as `quantisation_config` must not silently
 * train without 4-bit loading).
 */
import { normalizeKeys } from '@q/core';

/** Section names (camelCase; snake_case and the aliases below are accepted too). */
export const TRAIN_CONFIG_SECTIONS = ['model', 'quantizationConfig', 'lora', 'training', 'dataset', 'merge', 'preview', 'eval'] as const;
export type TrainConfigSection = (typeof TRAIN_CONFIG_SECTIONS)[number];

/** Other names the Python stack uses for the same sections. */
export const TRAIN_CONFIG_SECTION_ALIASES: Readonly<Record<string, TrainConfigSection>> = {
  bnb_config: 'quantizationConfig',
  peft_config: 'lora',
  lora_config: 'lora',
  args: 'training',
  training_args: 'training',
  training_arguments: 'training',
  sft_config: 'training',
};

/**
 * Splits a raw config object into its sections (camelCase names). Throws ConfigError for a
 * non-object or an unknown section, with "did you mean" when one is close.
 *
 * @example
 * ```ts
 * splitSections({ lora: { r: 8 }, quantization_config: { load_in_4bit: true } })
 * // { lora: { r: 8 }, quantizationConfig: { load_in_4bit: true } }
 * splitSections({ lora_confg: {} }) // throws: invalid value for "lora_confg": expected a known field; did you mean "lora"? ...
 * ```
 */
export function splitSections(raw: unknown, source = 'qlora config'): Partial<Record<TrainConfigSection, unknown>> {
  return normalizeKeys(raw ?? {}, TRAIN_CONFIG_SECTIONS, source, { aliases: TRAIN_CONFIG_SECTION_ALIASES }) as Partial<Record<TrainConfigSection, unknown>>;
}
