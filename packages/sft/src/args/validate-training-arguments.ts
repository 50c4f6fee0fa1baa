/** Validation of {@link TrainingArguments}, with transformers' cross-field rules. */
import {
  checkBoolean,
  checkEnum,
  checkInteger,
  checkNumber,
  checkString,
  checkStringList,
  ConfigError,
  normalizeKeys,
  withDefaults,
} from '@q/core';
import { resolveOptim, SCHEDULER_KWARGS, SCHEDULER_TYPES, type SchedulerType } from '@q/optim';
import {
  IGNORED_HF_KEYS,
  TRAINING_ARGUMENTS_ALIASES,
  TRAINING_ARGUMENTS_DEFAULTS,
  type TrainingArguments,
} from './training-arguments';

/** Options of {@link validateTrainingArguments}. */
export interface ValidateArgsOptions {
  /**
   * Receives notes the user should read: ignored transformers keys, optimizer features not
   * implemented. Default: `console.warn`.
   */
  warn?: (message: string) => void;
}

const SOURCE = 'TrainingArguments';
const INTERVALS = ['no', 'steps', 'epoch'] as const;
const STEP_SCHEDULES = SCHEDULER_TYPES.filter((t) => t !== 'reduce_lr_on_plateau');

/**
 * Fills transformers' defaults and validates training arguments given in camelCase or
 * transformers' snake_case (`per_device_train_batch_size`). Throws {@link ConfigError} naming the
 * field and the allowed values.
 *
 * @example
 * ```ts
 * const args = validateTrainingArguments({
 *   output_dir: './results', per_device_train_batch_size: 2, gradient_accumulation_steps: 4,
 *   optim: 'adamw_torch', learning_rate: 2e-4, lr_scheduler_type: 'cosine', num_train_epochs: 1,
 *   logging_steps: 10, fp16: true, gradient_checkpointing: true,
 * })
 * args.maxGradNorm // 1
 * ```
 */
export function validateTrainingArguments(input: unknown = {}, options: ValidateArgsOptions = {}): TrainingArguments {
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const ignored = dropIgnoredKeys(input, warn, SOURCE);
  const args = withDefaults(ignored, TRAINING_ARGUMENTS_DEFAULTS as TrainingArguments, SOURCE, {
    aliases: TRAINING_ARGUMENTS_ALIASES,
  });
  return checkTrainingFields(args, SOURCE, warn);
}

/** Removes {@link IGNORED_HF_KEYS} from `input` (any spelling), reporting each through `warn`. */
export function dropIgnoredKeys(input: unknown, warn: (m: string) => void, source: string): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    const snake = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (IGNORED_HF_KEYS.includes(k) || IGNORED_HF_KEYS.includes(snake)) {
      warn(`${source}: "${k}" has no effect in @q (it steers CUDA, distributed training, the Hub or Python tooling) and is ignored`);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Checks every TrainingArguments field of `a` (shared with SFTConfig). */
export function checkTrainingFields<T extends TrainingArguments>(a: T, source: string, warn: (m: string) => void): T {
  checkString(a.outputDir, 'outputDir', source);
  checkInteger(a.perDeviceTrainBatchSize, 'perDeviceTrainBatchSize', { min: 1 }, source);
  checkInteger(a.perDeviceEvalBatchSize, 'perDeviceEvalBatchSize', { min: 1 }, source);
  checkInteger(a.gradientAccumulationSteps, 'gradientAccumulationSteps', { min: 1 }, source);
  checkNumber(a.numTrainEpochs, 'numTrainEpochs', { min: 0, minExclusive: true }, source);
  const maxSteps = checkInteger(a.maxSteps, 'maxSteps', { min: -1 }, source);
  if (maxSteps === 0) throw new ConfigError('maxSteps', '-1 (train for numTrainEpochs) or an integer >= 1', 0, source);
  checkNumber(a.learningRate, 'learningRate', { min: 0, minExclusive: true }, source);
  const type = checkEnum(a.lrSchedulerType, 'lrSchedulerType', STEP_SCHEDULES, source) as SchedulerType;
  let lrSchedulerKwargs = a.lrSchedulerKwargs;
  if (lrSchedulerKwargs !== null) {
    // Keys are checked against the schedule now, so a typo fails before a long run starts.
    lrSchedulerKwargs = normalizeKeys(lrSchedulerKwargs, SCHEDULER_KWARGS[type] as string[], `${source}.lrSchedulerKwargs`);
  }
  checkStepsOrRatio(a.warmupSteps, 'warmupSteps', source, true);
  checkNumber(a.warmupRatio, 'warmupRatio', { min: 0, max: 1 }, source);
  for (const w of resolveOptim(a.optim, source).warnings) warn(`${source}: ${w}`);
  checkNumber(a.weightDecay, 'weightDecay', { min: 0 }, source);
  checkNumber(a.adamBeta1, 'adamBeta1', { min: 0, max: 1, maxExclusive: true }, source);
  checkNumber(a.adamBeta2, 'adamBeta2', { min: 0, max: 1, maxExclusive: true }, source);
  checkNumber(a.adamEpsilon, 'adamEpsilon', { min: 0 }, source);
  checkNumber(a.maxGradNorm, 'maxGradNorm', { min: 0 }, source);
  checkEnum(a.loggingStrategy, 'loggingStrategy', INTERVALS, source);
  checkStepsOrRatio(a.loggingSteps, 'loggingSteps', source);
  checkBoolean(a.loggingFirstStep, 'loggingFirstStep', source);
  const evalStrategy = checkEnum(a.evalStrategy, 'evalStrategy', INTERVALS, source);
  // transformers: eval_steps defaults to logging_steps when evaluating by steps.
  const evalSteps = a.evalSteps ?? (evalStrategy === 'steps' ? a.loggingSteps : null);
  if (evalSteps !== null) checkStepsOrRatio(evalSteps, 'evalSteps', source);
  const saveStrategy = checkEnum(a.saveStrategy, 'saveStrategy', [...INTERVALS, 'best'] as const, source);
  checkStepsOrRatio(a.saveSteps, 'saveSteps', source);
  if (a.saveTotalLimit !== null) checkInteger(a.saveTotalLimit, 'saveTotalLimit', { min: 1 }, source);
  checkBoolean(a.saveOnlyModel, 'saveOnlyModel', source);
  if (checkBoolean(a.loadBestModelAtEnd, 'loadBestModelAtEnd', source)) {
    checkBestModelRules(a, evalStrategy, evalSteps, saveStrategy, source);
  }
  if (a.metricForBestModel !== null) checkString(a.metricForBestModel, 'metricForBestModel', source);
  if (a.greaterIsBetter !== null) checkBoolean(a.greaterIsBetter, 'greaterIsBetter', source);
  if (checkBoolean(a.fp16, 'fp16', source) && checkBoolean(a.bf16, 'bf16', source)) {
    throw new ConfigError('bf16', 'false when fp16 is true (choose one mixed precision)', true, source);
  }
  checkBoolean(a.bf16, 'bf16', source);
  checkBoolean(a.gradientCheckpointing, 'gradientCheckpointing', source);
  checkObjectOrNull(a.gradientCheckpointingKwargs, 'gradientCheckpointingKwargs', source);
  checkInteger(a.seed, 'seed', { min: 0 }, source);
  if (a.dataSeed !== null) checkInteger(a.dataSeed, 'dataSeed', { min: 0 }, source);
  const r = a.resumeFromCheckpoint;
  if (r !== null && r !== true && r !== false) checkString(r, 'resumeFromCheckpoint', source);
  const reportTo = typeof a.reportTo === 'string' ? [a.reportTo] : checkStringList(a.reportTo, 'reportTo', source);
  const external = reportTo.filter((t) => t !== 'none');
  if (external.length > 0) warn(`${source}: reportTo ${external.join(', ')} is not built in; metrics go to the trainer's own log`);
  if (a.runName !== null) checkString(a.runName, 'runName', source);
  checkBoolean(a.dataloaderDropLast, 'dataloaderDropLast', source);
  checkBoolean(a.evalOnStart, 'evalOnStart', source);
  checkNumber(a.labelSmoothingFactor, 'labelSmoothingFactor', { min: 0, max: 1, maxExclusive: true }, source);
  if (a.neftuneNoiseAlpha !== null) checkNumber(a.neftuneNoiseAlpha, 'neftuneNoiseAlpha', { min: 0 }, source);
  return { ...a, lrSchedulerKwargs, evalSteps };
}

/** An integer >= 1, or a fraction in (0, 1) of the total steps (0 too when `allowZero`). */
function checkStepsOrRatio(v: unknown, field: string, source: string, allowZero = false): number {
  const n = checkNumber(v, field, { min: 0, minExclusive: !allowZero }, source);
  if (n >= 1 && !Number.isInteger(n)) {
    throw new ConfigError(field, 'an integer step count, or a fraction in (0, 1) of all steps', v, source);
  }
  return n;
}

function checkObjectOrNull(v: unknown, field: string, source: string): void {
  if (v !== null && (typeof v !== 'object' || Array.isArray(v))) {
    throw new ConfigError(field, 'an object of options or null', v, source);
  }
}

/** transformers' load_best_model_at_end rules: evaluation on, and saves aligned with evaluations. */
function checkBestModelRules(
  a: TrainingArguments,
  evalStrategy: string,
  evalSteps: number | null,
  saveStrategy: string,
  source: string,
): void {
  if (evalStrategy === 'no') {
    throw new ConfigError('evalStrategy', '"steps" or "epoch" when loadBestModelAtEnd is true', evalStrategy, source);
  }
  if (saveStrategy === 'best') return;
  if (saveStrategy !== evalStrategy) {
    throw new ConfigError('saveStrategy', `"${evalStrategy}" (the evalStrategy) when loadBestModelAtEnd is true`, saveStrategy, source);
  }
  if (saveStrategy === 'steps' && evalSteps !== null && a.saveSteps % evalSteps !== 0) {
    throw new ConfigError('saveSteps', `a multiple of evalSteps (${evalSteps}) when loadBestModelAtEnd is true`, a.saveSteps, source);
  }
}
