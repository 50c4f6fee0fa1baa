/**
 * Names and options of the learning-rate schedules, as transformers' `SchedulerType` spells them
 * (`TrainingArguments.lr_scheduler_type`).
 */

/** Every schedule transformers knows; `reduce_lr_on_plateau` is listed so it can be refused by name. */
export const SCHEDULER_TYPES = [
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
  'constant',
  'constant_with_warmup',
  'inverse_sqrt',
  'reduce_lr_on_plateau',
  'cosine_with_min_lr',
  'cosine_warmup_with_min_lr',
  'warmup_stable_decay',
] as const;

/** A schedule name as in transformers' `SchedulerType`. */
export type SchedulerType = (typeof SCHEDULER_TYPES)[number];

/** Shape of the warmup or decay phase of `warmup_stable_decay`. */
export type WsdPhaseType = 'linear' | 'cosine' | '1-sqrt';

/**
 * Options of {@link lrSchedule}. Scheduler-specific fields are those transformers takes through
 * `lr_scheduler_kwargs`; passing one to a schedule that does not take it is an error, as it is in
 * transformers (a `TypeError` there).
 */
export interface LrScheduleOptions {
  /** Schedule name. */
  type: SchedulerType;
  /** Peak learning rate (the optimizer's `lr`). Must be > 0. */
  learningRate: number;
  /** Total optimizer steps. Required by every type except constant, constant_with_warmup and inverse_sqrt. */
  numTrainingSteps?: number;
  /**
   * Warmup steps: an integer >= 1, or a float in (0, 1) read as a fraction of `numTrainingSteps`
   * (transformers v5). Default 0. Wins over `warmupRatio` when > 0, as in transformers.
   */
  warmupSteps?: number;
  /** Warmup as a fraction of `numTrainingSteps`, rounded up (transformers v4 `warmup_ratio`). Default 0. */
  warmupRatio?: number;
  /** cosine, cosine_with_min_lr, cosine_warmup_with_min_lr, warmup_stable_decay: waves, default 0.5. cosine_with_restarts: restarts, default 1. */
  numCycles?: number;
  /** polynomial: final learning rate, default 1e-7; must be below `learningRate`. */
  lrEnd?: number;
  /** polynomial: exponent, default 1.0. */
  power?: number;
  /** cosine_with_min_lr, cosine_warmup_with_min_lr: floor as an absolute rate (give this or `minLrRate`). */
  minLr?: number;
  /** cosine_with_min_lr, cosine_warmup_with_min_lr: floor as a fraction of `learningRate`. */
  minLrRate?: number;
  /** cosine_warmup_with_min_lr: fraction of `learningRate` to start warmup from. */
  warmupLrRate?: number;
  /** warmup_stable_decay: decay steps (required). */
  numDecaySteps?: number;
  /** warmup_stable_decay: stable steps; default `numTrainingSteps - warmup - numDecaySteps`. */
  numStableSteps?: number;
  /** warmup_stable_decay: warmup shape, default 'linear'. */
  warmupType?: WsdPhaseType;
  /** warmup_stable_decay: decay shape, default 'cosine'. */
  decayType?: WsdPhaseType;
  /** warmup_stable_decay: floor as a fraction of `learningRate`, default 0. */
  minLrRatio?: number;
}

/** Scheduler-specific option names each type accepts (transformers' `lr_scheduler_kwargs`). */
export const SCHEDULER_KWARGS: Readonly<Record<SchedulerType, readonly (keyof LrScheduleOptions)[]>> = {
  linear: [],
  cosine: ['numCycles'],
  cosine_with_restarts: ['numCycles'],
  polynomial: ['lrEnd', 'power'],
  constant: [],
  constant_with_warmup: [],
  // NOTE: transformers' get_scheduler passes no kwargs to inverse_sqrt, so its timescale is always
  // the warmup steps (or 10000); we keep that rather than offer an option the Trainer cannot set.
  inverse_sqrt: [],
  reduce_lr_on_plateau: [],
  cosine_with_min_lr: ['numCycles', 'minLr', 'minLrRate'],
  cosine_warmup_with_min_lr: ['numCycles', 'minLr', 'minLrRate', 'warmupLrRate'],
  warmup_stable_decay: [
    'numDecaySteps',
    'numStableSteps',
    'warmupType',
    'decayType',
    'minLrRatio',
    'numCycles',
  ],
};

/** Options every type accepts (the rest are scheduler-specific). */
export const COMMON_SCHEDULE_FIELDS = [
  'type',
  'learningRate',
  'numTrainingSteps',
  'warmupSteps',
  'warmupRatio',
] as const satisfies readonly (keyof LrScheduleOptions)[];
