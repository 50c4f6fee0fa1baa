/**
 * transformers' `TrainingArguments.optim` names, mapped onto the one optimizer @q implements
 * (AdamW with 32-bit states). Names that only change how states are stored (paged, 8-bit, fused)
 * still train with the same update rule, so they are accepted with a warning instead of failing a
 * recipe copied from a QLoRA tutorial.
 */
import { ConfigError } from '@q/core';

/** `optim` names accepted, each mapped to @q's AdamW. */
export const OPTIM_NAMES = [
  'adamw_torch',
  'adamw_torch_fused',
  'adamw_hf',
  'adamw_torch_xla',
  'adamw_apex_fused',
  'paged_adamw_32bit',
  'paged_adamw_8bit',
  'adamw_bnb_8bit',
  'adamw_8bit',
  'adamw_torch_8bit',
  'adamw_torch_4bit',
] as const;

/** An accepted `optim` name. */
export type OptimName = (typeof OPTIM_NAMES)[number];

/** What an `optim` name resolves to. */
export interface ResolvedOptim {
  /** The name as given. */
  name: OptimName;
  /** The optimizer that will run. */
  optimizer: 'adamw';
  /** Differences from what the name means in transformers, for the user to read; empty if none. */
  warnings: string[];
}

const LOW_BIT =
  'keeps AdamW states in 32-bit: 8-bit/4-bit optimizer states are not implemented in @q, so states take 4x/8x more memory (the update rule is the same, without quantization error)';
const PAGED = 'does not page optimizer states to host memory: paging is not implemented in @q, states stay on the GPU';

const NOTES: Readonly<Record<OptimName, string[]>> = {
  adamw_torch: [],
  adamw_torch_fused: [],
  adamw_hf: [
    "runs torch-style AdamW: transformers' removed AdamW added eps before bias correction, so updates differ slightly when the second moment is tiny",
  ],
  adamw_torch_xla: [],
  adamw_apex_fused: [],
  paged_adamw_32bit: [PAGED],
  paged_adamw_8bit: [PAGED, LOW_BIT],
  adamw_bnb_8bit: [LOW_BIT],
  adamw_8bit: [LOW_BIT],
  adamw_torch_8bit: [LOW_BIT],
  adamw_torch_4bit: [LOW_BIT],
};

/**
 * Resolves a transformers `optim` name. Throws {@link ConfigError} for names of other optimizers
 * (sgd, adafactor, lion, ...), listing the accepted ones.
 *
 * @example
 * ```ts
 * resolveOptim('paged_adamw_8bit').warnings
 * // ['optim "paged_adamw_8bit" does not page optimizer states ...', 'optim "paged_adamw_8bit" keeps AdamW states in 32-bit ...']
 * ```
 */
export function resolveOptim(name: unknown, source = 'TrainingArguments'): ResolvedOptim {
  if (typeof name !== 'string' || !(OPTIM_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(
      'optim',
      `one of ${OPTIM_NAMES.map((n) => JSON.stringify(n)).join(', ')} (all run AdamW; other optimizers are not implemented)`,
      name,
      source,
    );
  }
  const optimName = name as OptimName;
  return { name: optimName, optimizer: 'adamw', warnings: NOTES[optimName].map((w) => `optim "${name}" ${w}`) };
}
