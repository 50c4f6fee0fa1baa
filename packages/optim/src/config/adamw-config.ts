/** AdamW hyperparameters, with torch.optim.AdamW's meaning and TrainingArguments' defaults. */
import { checkBoolean, checkNumber, ConfigError, withDefaults } from '@q/core';

/** AdamW hyperparameters (decoupled weight decay, bias-corrected moments, as torch.optim.AdamW). */
export interface AdamWConfig {
  /** Learning rate. Default 5e-5 (TrainingArguments' `learning_rate`; torch's own default is 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1). Default [0.9, 0.999]. */
  betas: [number, number];
  /** Added to the denominator for stability. Default 1e-8. */
  eps: number;
  /** Decoupled weight decay. Default 0.0 (TrainingArguments' default; torch's own default is 0.01). */
  weightDecay: number;
  /** AMSGrad variant: not implemented, only `false` is accepted. Default false. */
  amsgrad: boolean;
}

/** Defaults of {@link AdamWConfig}, in one place. */
export const ADAMW_DEFAULTS: Readonly<AdamWConfig> = Object.freeze({
  lr: 5e-5,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
  weightDecay: 0.0,
  amsgrad: false,
});

const SOURCE = 'AdamWConfig';

/**
 * Fills defaults and validates an AdamW config given in camelCase or torch's snake_case
 * (`weight_decay`). Throws {@link ConfigError} naming the bad field and the allowed values.
 *
 * @example
 * ```ts
 * validateAdamWConfig({ lr: 2e-4, weight_decay: 0.01 })
 * // { lr: 2e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false }
 * ```
 */
export function validateAdamWConfig(input: unknown = {}): AdamWConfig {
  const cfg = withDefaults(input, ADAMW_DEFAULTS as AdamWConfig, SOURCE);
  checkNumber(cfg.lr, 'lr', { min: 0 }, SOURCE);
  if (!Array.isArray(cfg.betas) || cfg.betas.length !== 2) {
    throw new ConfigError('betas', 'a pair [beta1, beta2], each in [0, 1)', cfg.betas, SOURCE);
  }
  checkNumber(cfg.betas[0], 'betas[0]', { min: 0, max: 1, maxExclusive: true }, SOURCE);
  checkNumber(cfg.betas[1], 'betas[1]', { min: 0, max: 1, maxExclusive: true }, SOURCE);
  checkNumber(cfg.eps, 'eps', { min: 0 }, SOURCE);
  checkNumber(cfg.weightDecay, 'weightDecay', { min: 0 }, SOURCE);
  if (checkBoolean(cfg.amsgrad, 'amsgrad', SOURCE)) {
    throw new ConfigError('amsgrad', 'false (AMSGrad is not implemented in @q/optim)', true, SOURCE);
  }
  return { ...cfg, betas: [cfg.betas[0], cfg.betas[1]] };
}
