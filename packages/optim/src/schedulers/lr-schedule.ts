/**
 * `lrSchedule`: transformers' `get_scheduler` as a pure function of the step, so the trainer can
 * compute the rate for any step (resume included) without a stateful scheduler object.
 */
import { checkEnum, checkInteger, checkNumber, ConfigError, normalizeKeys, ValueError } from '@q/core';
import {
  constantWithWarmupLambda,
  cosineLambda,
  cosineWarmupWithMinLrLambda,
  cosineWithRestartsLambda,
  inverseSqrtLambda,
  linearLambda,
  polynomialLambda,
  wsdLambda,
} from './lambdas';
import { COMMON_SCHEDULE_FIELDS, SCHEDULER_KWARGS, SCHEDULER_TYPES, type LrScheduleOptions } from './types';
import { resolveWarmupSteps } from './warmup';

/** A learning rate as a function of the number of optimizer updates already taken. */
export type LrScheduleFn = (step: number) => number;

const SOURCE = 'lrSchedule';
const ALL_FIELDS = [...COMMON_SCHEDULE_FIELDS, ...new Set(Object.values(SCHEDULER_KWARGS).flat())];
const WSD_SHAPES = ['linear', 'cosine', '1-sqrt'] as const;

/**
 * Builds the learning-rate schedule `type` with transformers' formulas and defaults
 * (`get_scheduler` as the Trainer calls it). Keys may be camelCase or snake_case
 * (`num_cycles`), so `TrainingArguments.lr_scheduler_kwargs` can be spread in as is.
 *
 * The returned function takes `step`, the number of optimizer updates already done (0 for the
 * first update), and returns the rate that update uses. `reduce_lr_on_plateau` is refused: it
 * depends on evaluation metrics, not on the step.
 *
 * @example
 * ```ts
 * const lr = lrSchedule({ type: 'cosine', learningRate: 2e-4, numTrainingSteps: 100, warmupRatio: 0.1 })
 * lr(0)   // 0 (warmup starts at zero)
 * lr(10)  // 2e-4 (peak, end of the 10 warmup steps)
 * lr(55)  // 1e-4 (half-way down the half cosine)
 * ```
 */
export function lrSchedule(options: LrScheduleOptions): LrScheduleFn {
  const opts = normalizeKeys(options, ALL_FIELDS, SOURCE) as Partial<LrScheduleOptions>;
  const type = checkEnum(opts.type, 'type', SCHEDULER_TYPES, SOURCE);
  if (type === 'reduce_lr_on_plateau') {
    throw new ConfigError(
      'type',
      `a step-based schedule (${SCHEDULER_TYPES.filter((t) => t !== type).join(', ')}); ` +
        'reduce_lr_on_plateau follows evaluation metrics, not the step, and is not supported',
      type,
      SOURCE,
    );
  }
  for (const key of Object.keys(opts) as (keyof LrScheduleOptions)[]) {
    const common = (COMMON_SCHEDULE_FIELDS as readonly string[]).includes(key);
    if (!common && !SCHEDULER_KWARGS[type].includes(key)) {
      const allowed = SCHEDULER_KWARGS[type];
      throw new ConfigError(
        key,
        `no "${key}" for type "${type}" (it takes ${allowed.length ? allowed.join(', ') : 'no extra options'})`,
        opts[key],
        SOURCE,
      );
    }
  }
  const lr = checkNumber(opts.learningRate, 'learningRate', { min: 0, minExclusive: true }, SOURCE);
  const needsTotal = !['constant', 'constant_with_warmup', 'inverse_sqrt'].includes(type);
  const total =
    opts.numTrainingSteps === undefined && !needsTotal
      ? undefined
      : checkInteger(opts.numTrainingSteps, 'numTrainingSteps', { min: 1 }, SOURCE);
  const warmup = type === 'constant' ? 0 : resolveWarmupSteps({ ...opts, numTrainingSteps: total });
  const T = total ?? 0;
  const cycles = (def: number) => checkNumber(opts.numCycles ?? def, 'numCycles', { min: 0 }, SOURCE);

  let lambda: (step: number) => number;
  switch (type) {
    case 'constant':
      lambda = () => 1;
      break;
    case 'constant_with_warmup':
      lambda = (s) => constantWithWarmupLambda(s, warmup);
      break;
    case 'linear':
      lambda = (s) => linearLambda(s, warmup, T);
      break;
    case 'cosine': {
      const n = cycles(0.5);
      lambda = (s) => cosineLambda(s, warmup, T, n);
      break;
    }
    case 'cosine_with_restarts': {
      const n = cycles(1);
      lambda = (s) => cosineWithRestartsLambda(s, warmup, T, n);
      break;
    }
    case 'polynomial': {
      const lrEnd = checkNumber(opts.lrEnd ?? 1e-7, 'lrEnd', { min: 0 }, SOURCE);
      if (!(lr > lrEnd)) {
        throw new ConfigError('lrEnd', `a rate below learningRate (${lr})`, lrEnd, SOURCE);
      }
      const power = checkNumber(opts.power ?? 1.0, 'power', { min: 0, minExclusive: true }, SOURCE);
      lambda = (s) => polynomialLambda(s, warmup, T, lrEnd, power, lr);
      break;
    }
    case 'inverse_sqrt': {
      const timescale = warmup || 10_000;
      lambda = (s) => inverseSqrtLambda(s, warmup, timescale);
      break;
    }
    case 'cosine_with_min_lr':
    case 'cosine_warmup_with_min_lr': {
      const rate = minLrRate(opts, lr);
      const n = cycles(0.5);
      if (type === 'cosine_with_min_lr') {
        lambda = (s) => cosineLambda(s, warmup, T, n, rate);
      } else {
        const w =
          opts.warmupLrRate === undefined
            ? undefined
            : checkNumber(opts.warmupLrRate, 'warmupLrRate', { min: 0, max: 1 }, SOURCE);
        lambda = (s) => cosineWarmupWithMinLrLambda(s, warmup, T, n, rate, w);
      }
      break;
    }
    case 'warmup_stable_decay': {
      const decay = checkInteger(opts.numDecaySteps, 'numDecaySteps', { min: 0 }, SOURCE);
      const stable =
        opts.numStableSteps === undefined
          ? checkInteger(T - warmup - decay, 'numStableSteps (numTrainingSteps - warmup - numDecaySteps)', { min: 0 }, SOURCE)
          : checkInteger(opts.numStableSteps, 'numStableSteps', { min: 0 }, SOURCE);
      const params = {
        warmup,
        stable,
        decay,
        warmupType: checkEnum(opts.warmupType ?? 'linear', 'warmupType', WSD_SHAPES, SOURCE),
        decayType: checkEnum(opts.decayType ?? 'cosine', 'decayType', WSD_SHAPES, SOURCE),
        minLrRatio: checkNumber(opts.minLrRatio ?? 0, 'minLrRatio', { min: 0, max: 1 }, SOURCE),
        numCycles: cycles(0.5),
      };
      lambda = (s) => wsdLambda(s, params);
      break;
    }
  }
  return (step: number) => {
    if (!Number.isInteger(step) || step < 0) {
      throw new ValueError(`lrSchedule: step must be an integer >= 0, got ${step}`);
    }
    return lr * lambda(step);
  };
}

function minLrRate(opts: Partial<LrScheduleOptions>, lr: number): number {
  if (opts.minLr !== undefined && opts.minLrRate !== undefined) {
    throw new ConfigError('minLr', 'either minLr or minLrRate, not both', opts.minLr, SOURCE);
  }
  if (opts.minLr !== undefined) return checkNumber(opts.minLr, 'minLr', { min: 0 }, SOURCE) / lr;
  if (opts.minLrRate === undefined) {
    throw new ConfigError('minLrRate', 'minLr or minLrRate for this schedule', undefined, SOURCE);
  }
  return checkNumber(opts.minLrRate, 'minLrRate', { min: 0, max: 1 }, SOURCE);
}
