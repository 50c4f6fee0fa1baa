/** Warmup length as transformers' `TrainingArguments.get_warmup_steps` computes it. */
import { checkInteger, checkNumber, ConfigError } from '@q/core';

/**
 * Resolves the number of warmup steps. `warmupSteps` >= 1 is taken as is; a `warmupSteps` in
 * (0, 1) (transformers v5) or, failing that, `warmupRatio` (v4) is a fraction of the total,
 * rounded up with `Math.ceil(total * ratio)` exactly as Python's `math.ceil` does on the same
 * float64 product (so 0.07 of 100 steps is 8, not 7: 100 * 0.07 = 7.000000000000001).
 *
 * @example
 * ```ts
 * resolveWarmupSteps({ warmupRatio: 0.03, numTrainingSteps: 1000 }) // 30
 * resolveWarmupSteps({ warmupSteps: 0.07, numTrainingSteps: 100 }) // 8
 * ```
 */
export function resolveWarmupSteps(opts: {
  warmupSteps?: number;
  warmupRatio?: number;
  numTrainingSteps?: number;
}): number {
  const source = 'lrSchedule';
  const steps = checkNumber(opts.warmupSteps ?? 0, 'warmupSteps', { min: 0 }, source);
  const ratio = checkNumber(opts.warmupRatio ?? 0, 'warmupRatio', { min: 0, max: 1 }, source);
  if (steps >= 1) return checkInteger(steps, 'warmupSteps', { min: 0 }, source);
  const fraction = steps > 0 ? steps : ratio;
  if (fraction === 0) return 0;
  if (opts.numTrainingSteps === undefined) {
    throw new ConfigError(
      'numTrainingSteps',
      'a total step count, needed to turn a warmup ratio into steps',
      undefined,
      source,
    );
  }
  return Math.ceil(opts.numTrainingSteps * fraction);
}
