/**
 * Learning-rate multipliers of transformers' schedules (src/transformers/optimization.py), one
 * function per `_get_*_lr_lambda`, transcribed operation for operation so float64 results match
 * Python's bit for bit where the libm calls agree. The learning rate at a step is
 * `learningRate * lambda(step)`, as torch's LambdaLR computes it.
 *
 * `step` counts optimizer updates already taken: the first update uses lambda(0), which is 0
 * whenever there is warmup (transformers' off-by-one, kept on purpose).
 */

/** Warmup ramp shared by every schedule: step / max(1, warmup). */
function warmupFactor(step: number, warmup: number): number {
  return step / Math.max(1, warmup);
}

/** `_get_constant_schedule_with_warmup_lr_lambda`. */
export function constantWithWarmupLambda(step: number, warmup: number): number {
  if (step < warmup) return warmupFactor(step, warmup);
  return 1.0;
}

/** `_get_linear_schedule_with_warmup_lr_lambda`: linear decay to 0 at `total`, 0 after. */
export function linearLambda(step: number, warmup: number, total: number): number {
  if (step < warmup) return warmupFactor(step, warmup);
  return Math.max(0.0, (total - step) / Math.max(1, total - warmup));
}

/**
 * `_get_cosine_schedule_with_warmup_lr_lambda` (with `min_lr_rate`, 0 for plain cosine). Past
 * `total` the cosine keeps turning (only negative values are clamped), as in transformers.
 */
export function cosineLambda(step: number, warmup: number, total: number, numCycles: number, minLrRate = 0): number {
  if (step < warmup) return warmupFactor(step, warmup);
  const progress = (step - warmup) / Math.max(1, total - warmup);
  let factor = 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress));
  factor = factor * (1 - minLrRate) + minLrRate;
  return Math.max(0, factor);
}

/** `_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda`: 0 from `total` on. */
export function cosineWithRestartsLambda(step: number, warmup: number, total: number, numCycles: number): number {
  if (step < warmup) return warmupFactor(step, warmup);
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (progress >= 1.0) return 0.0;
  // NOTE: Python's % and JS's % agree here because both operands are non-negative.
  return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((numCycles * progress) % 1.0))));
}

/**
 * `_get_polynomial_decay_schedule_with_warmup_lr_lambda`: from `lrInit` down to `lrEnd` at
 * `total`, then `lrEnd`. Divides by `lrInit` because LambdaLR multiplies by it again.
 */
export function polynomialLambda(
  step: number,
  warmup: number,
  total: number,
  lrEnd: number,
  power: number,
  lrInit: number,
): number {
  if (step < warmup) return warmupFactor(step, warmup);
  if (step > total) return lrEnd / lrInit;
  const lrRange = lrInit - lrEnd;
  const decaySteps = total - warmup;
  // NOTE: transformers divides by zero here when warmup == total (a ZeroDivisionError at
  // step == total); the limit of the schedule there is lrEnd, which is what we return.
  if (decaySteps === 0) return lrEnd / lrInit;
  const pctRemaining = 1 - (step - warmup) / decaySteps;
  const decay = lrRange * pctRemaining ** power + lrEnd;
  return decay / lrInit;
}

/** `_get_inverse_sqrt_schedule_lr_lambda`: 1/sqrt((step + timescale - warmup) / timescale). */
export function inverseSqrtLambda(step: number, warmup: number, timescale: number): number {
  if (step < warmup) return warmupFactor(step, warmup);
  const shift = timescale - warmup;
  return 1.0 / Math.sqrt((step + shift) / timescale);
}

/**
 * `_get_cosine_with_min_lr_schedule_with_warmup_lr_rate_lambda`: like cosine with a floor, but
 * warmup reaches full rate one step earlier and decay starts one step earlier.
 */
export function cosineWarmupWithMinLrLambda(
  step: number,
  warmup: number,
  total: number,
  numCycles: number,
  minLrRate: number,
  warmupLrRate: number | undefined,
): number {
  if (step < warmup) {
    if (warmupLrRate === undefined) return (step + 1) / Math.max(1, warmup);
    return warmupLrRate + ((1.0 - warmupLrRate) * step) / Math.max(1, warmup - 1);
  }
  const progress = (step - warmup + 1) / Math.max(1, total - warmup);
  let factor = 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress));
  factor = factor * (1 - minLrRate) + minLrRate;
  return Math.max(0, factor);
}

/** Phases and shapes of `_get_wsd_scheduler_lambda` (warmup, stable, decay). */
export interface WsdParams {
  warmup: number;
  stable: number;
  decay: number;
  warmupType: 'linear' | 'cosine' | '1-sqrt';
  decayType: 'linear' | 'cosine' | '1-sqrt';
  minLrRatio: number;
  numCycles: number;
}

/** `_get_wsd_scheduler_lambda`: warmup, a flat stretch, a decay, then `minLrRatio`. */
export function wsdLambda(step: number, p: WsdParams): number {
  if (step < p.warmup) {
    const progress = step / Math.max(1, p.warmup);
    let factor =
      p.warmupType === 'linear'
        ? progress
        : p.warmupType === 'cosine'
          ? 0.5 * (1.0 - Math.cos(Math.PI * progress))
          : 1.0 - Math.sqrt(1.0 - progress);
    factor = factor * (1.0 - p.minLrRatio) + p.minLrRatio;
    return Math.max(0.0, factor);
  }
  if (step < p.warmup + p.stable) return 1.0;
  if (step < p.warmup + p.stable + p.decay) {
    const progress = (step - p.warmup - p.stable) / Math.max(1, p.decay);
    let factor =
      p.decayType === 'linear'
        ? 1.0 - progress
        : p.decayType === 'cosine'
          ? 0.5 * (1.0 + Math.cos(Math.PI * p.numCycles * 2.0 * progress))
          : 1.0 - Math.sqrt(progress);
    factor = factor * (1.0 - p.minLrRatio) + p.minLrRatio;
    return Math.max(0.0, factor);
  }
  return p.minLrRatio;
}
