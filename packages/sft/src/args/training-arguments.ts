/**
 * TrainingArguments: the subset of transformers' TrainingArguments that shapes a single-device
 * training run, with transformers' names (camelCased) and defaults, so a recipe copied from a
 * QLoRA tutorial means the same thing here.
 */
import type { SchedulerType } from '@q/optim';

/** When to log, evaluate or save. */
export type IntervalStrategy = 'no' | 'steps' | 'epoch';
/** When to save; 'best' saves when the tracked metric improves. */
export type SaveStrategy = IntervalStrategy | 'best';

/** Training hyperparameters. Each field's doc gives transformers' default. */
export interface TrainingArguments {
  /** Where checkpoints and the final adapter are written. Default 'trainer_output'. */
  outputDir: string;
  /** Sequences per forward pass. Default 8. */
  perDeviceTrainBatchSize: number;
  /** Sequences per evaluation pass. Default 8. */
  perDeviceEvalBatchSize: number;
  /** Forward/backward passes summed before each optimizer step. Default 1. */
  gradientAccumulationSteps: number;
  /** Epochs to train (a fraction trains part of the last one). Default 3. */
  numTrainEpochs: number;
  /** Total optimizer steps; overrides numTrainEpochs when > 0. Default -1. */
  maxSteps: number;
  /** Peak learning rate. Default 5e-5. */
  learningRate: number;
  /** Learning-rate schedule. Default 'linear'. */
  lrSchedulerType: SchedulerType;
  /** Schedule-specific options, e.g. { num_cycles: 1 }. Default null. */
  lrSchedulerKwargs: Record<string, unknown> | null;
  /** Warmup steps; a value in (0, 1) is a fraction of all steps (transformers v5). Default 0. */
  warmupSteps: number;
  /** Warmup as a fraction of all steps, rounded up (transformers v4). Default 0. */
  warmupRatio: number;
  /** Optimizer name (see @q/optim resolveOptim). Default 'adamw_torch'. */
  optim: string;
  /** AdamW decoupled weight decay. Default 0. */
  weightDecay: number;
  /** AdamW beta1. Default 0.9. */
  adamBeta1: number;
  /** AdamW beta2. Default 0.999. */
  adamBeta2: number;
  /** AdamW epsilon. Default 1e-8. */
  adamEpsilon: number;
  /** Gradient clipping by global norm; 0 disables. Default 1.0. */
  maxGradNorm: number;
  /** When to log. Default 'steps'. */
  loggingStrategy: IntervalStrategy;
  /** Log every N steps (a value in (0, 1) is a fraction of all steps). Default 500. */
  loggingSteps: number;
  /** Also log after the first step. Default false. */
  loggingFirstStep: boolean;
  /** When to evaluate. Default 'no'. */
  evalStrategy: IntervalStrategy;
  /** Evaluate every N steps; null = loggingSteps. Default null. */
  evalSteps: number | null;
  /** When to save checkpoints. Default 'steps'. */
  saveStrategy: SaveStrategy;
  /** Save every N steps (a value in (0, 1) is a fraction of all steps). Default 500. */
  saveSteps: number;
  /** Keep at most N checkpoints, deleting the oldest; null keeps all. Default null. */
  saveTotalLimit: number | null;
  /** Save only the adapter, not optimizer/scheduler/RNG state (no exact resume). Default false. */
  saveOnlyModel: boolean;
  /** Reload the best checkpoint at the end (needs evaluation). Default false. */
  loadBestModelAtEnd: boolean;
  /** Metric for the best checkpoint; null = 'loss'. Default null. */
  metricForBestModel: string | null;
  /** Whether a larger metric is better; null = false for losses. Default null. */
  greaterIsBetter: boolean | null;
  /** Mixed precision in float16. Default false. */
  fp16: boolean;
  /** Mixed precision in bfloat16. Default false. */
  bf16: boolean;
  /** Recompute activations in backward to save memory. Default false. */
  gradientCheckpointing: boolean;
  /** Options for gradient checkpointing (e.g. use_reentrant); informational here. Default null. */
  gradientCheckpointingKwargs: Record<string, unknown> | null;
  /** Seed for initialization and dropout. Default 42. */
  seed: number;
  /** Seed for data order; null = seed. Default null. */
  dataSeed: number | null;
  /** Checkpoint folder to resume from, or true for the latest in outputDir. Default null. */
  resumeFromCheckpoint: string | boolean | null;
  /** Logging integrations; only 'none' is built in. Default 'none' (transformers v5). */
  reportTo: string | string[];
  /** Name of the run in logs. Default null. */
  runName: string | null;
  /** Drop the last incomplete batch. Default false. */
  dataloaderDropLast: boolean;
  /** Evaluate once before training. Default false. */
  evalOnStart: boolean;
  /** Label smoothing epsilon. Default 0. */
  labelSmoothingFactor: number;
  /** NEFTune embedding noise alpha; null disables. Default null. */
  neftuneNoiseAlpha: number | null;
}

/** Defaults of {@link TrainingArguments}, in one place (transformers v5). */
export const TRAINING_ARGUMENTS_DEFAULTS: Readonly<TrainingArguments> = Object.freeze({
  outputDir: 'trainer_output',
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  gradientAccumulationSteps: 1,
  numTrainEpochs: 3,
  maxSteps: -1,
  learningRate: 5e-5,
  lrSchedulerType: 'linear',
  lrSchedulerKwargs: null,
  warmupSteps: 0,
  warmupRatio: 0,
  optim: 'adamw_torch',
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  maxGradNorm: 1.0,
  loggingStrategy: 'steps',
  loggingSteps: 500,
  loggingFirstStep: false,
  evalStrategy: 'no',
  evalSteps: null,
  saveStrategy: 'steps',
  saveSteps: 500,
  saveTotalLimit: null,
  saveOnlyModel: false,
  loadBestModelAtEnd: false,
  metricForBestModel: null,
  greaterIsBetter: null,
  fp16: false,
  bf16: false,
  gradientCheckpointing: false,
  gradientCheckpointingKwargs: null,
  seed: 42,
  dataSeed: null,
  resumeFromCheckpoint: null,
  reportTo: 'none',
  runName: null,
  dataloaderDropLast: false,
  evalOnStart: false,
  labelSmoothingFactor: 0,
  neftuneNoiseAlpha: null,
} satisfies TrainingArguments);

/** Old names transformers still accepts, mapped to the current field. */
export const TRAINING_ARGUMENTS_ALIASES: Readonly<Record<string, string>> = {
  evaluation_strategy: 'evalStrategy',
};

/**
 * transformers keys that only steer CUDA, distributed training, the Hub or Python tooling. They
 * are accepted (so a pasted recipe loads) and reported as ignored.
 */
export const IGNORED_HF_KEYS: readonly string[] = [
  'overwrite_output_dir', 'do_train', 'do_eval', 'do_predict', 'logging_dir', 'log_level', 'log_level_replica',
  'log_on_each_node', 'logging_nan_inf_filter', 'disable_tqdm', 'push_to_hub', 'hub_model_id', 'hub_token',
  'hub_strategy', 'hub_private_repo', 'hub_always_push', 'hub_revision', 'tf32', 'torch_compile',
  'torch_compile_backend', 'torch_compile_mode', 'dataloader_num_workers', 'dataloader_pin_memory',
  'dataloader_persistent_workers', 'dataloader_prefetch_factor', 'ddp_find_unused_parameters', 'ddp_backend',
  'ddp_timeout', 'ddp_bucket_cap_mb', 'ddp_broadcast_buffers', 'local_rank', 'deepspeed', 'fsdp', 'fsdp_config',
  'use_cpu', 'no_cuda', 'save_on_each_node', 'skip_memory_metrics', 'include_num_input_tokens_seen',
  'auto_find_batch_size', 'full_determinism', 'use_liger_kernel', 'liger_kernel_config',
  'average_tokens_across_devices', 'optim_args', 'project', 'trackio_space_id', 'eval_accumulation_steps',
  'prediction_loss_only', 'half_precision_backend', 'fp16_opt_level', 'bf16_full_eval', 'fp16_full_eval',
  'remove_unused_columns', 'label_names', 'group_by_length', 'length_column_name', 'torch_empty_cache_steps',
  'eval_delay', 'eval_do_concat_batches', 'save_safetensors', 'use_cache', 'ignore_data_skip',
  'restore_callback_states_from_checkpoint', 'accelerator_config', 'parallelism_config', 'debug',
];
