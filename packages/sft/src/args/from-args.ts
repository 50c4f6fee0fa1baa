/** The optimizer and schedule a set of TrainingArguments asks for, built with @q/optim. */
import { lrSchedule, resolveOptim, validateAdamWConfig, type AdamWConfig, type LrScheduleFn } from '@q/optim';
import type { TrainingArguments } from './training-arguments';

/**
 * AdamW hyperparameters from `args` (learning rate, betas, epsilon, weight decay), plus the
 * optimizer-name warnings (e.g. paged/8-bit states not implemented).
 *
 * @example
 * ```ts
 * adamWFromArgs(validateTrainingArguments({ learning_rate: 2e-4, optim: 'paged_adamw_32bit' }))
 * // { config: { lr: 2e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false }, warnings: ['optim "paged_adamw_32bit" does not page ...'] }
 * ```
 */
export function adamWFromArgs(args: TrainingArguments): { config: AdamWConfig; warnings: string[] } {
  const { warnings } = resolveOptim(args.optim);
  const config = validateAdamWConfig({
    lr: args.learningRate,
    betas: [args.adamBeta1, args.adamBeta2],
    eps: args.adamEpsilon,
    weightDecay: args.weightDecay,
  });
  return { config, warnings };
}

/**
 * The learning rate per optimizer step for a run of `numTrainingSteps` steps, as the Trainer's
 * `create_scheduler` builds it from `args` (type, warmup steps or ratio, lr_scheduler_kwargs).
 *
 * @example
 * ```ts
 * const lr = scheduleFromArgs(validateTrainingArguments({ learning_rate: 2e-4, lr_scheduler_type: 'cosine' }), 375)
 * lr(0) // 2e-4
 * ```
 */
export function scheduleFromArgs(args: TrainingArguments, numTrainingSteps: number): LrScheduleFn {
  return lrSchedule({
    ...(args.lrSchedulerKwargs ?? {}),
    type: args.lrSchedulerType,
    learningRate: args.learningRate,
    numTrainingSteps,
    warmupSteps: args.warmupSteps,
    warmupRatio: args.warmupRatio,
  });
}
