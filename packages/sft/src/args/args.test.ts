import { describe, expect, it } from 'vitest';
import { ConfigError } from '@q/core';
import { TRAINING_ARGUMENTS_DEFAULTS } from './training-arguments';
import { validateTrainingArguments } from './validate-training-arguments';
import { SFT_CONFIG_DEFAULTS, validateSftConfig } from './sft-config';
import { adamWFromArgs, scheduleFromArgs } from './from-args';

const quiet = { warn: () => {} };

// The tutorial's TrainingArguments(...) call, as snake_case JSON.
const TUTORIAL = {
  output_dir: './results',
  per_device_train_batch_size: 2,
  gradient_accumulation_steps: 4,
  optim: 'adamw_torch',
  learning_rate: 2e-4,
  lr_scheduler_type: 'cosine',
  num_train_epochs: 1,
  logging_steps: 10,
  fp16: true,
  gradient_checkpointing: true,
};

describe('validateTrainingArguments', () => {
  it('fills transformers defaults', () => {
    const a = validateTrainingArguments({}, quiet);
    expect(a).toEqual(TRAINING_ARGUMENTS_DEFAULTS);
    expect([a.learningRate, a.weightDecay, a.adamBeta1, a.adamBeta2, a.adamEpsilon, a.maxGradNorm]).toEqual([5e-5, 0, 0.9, 0.999, 1e-8, 1]);
    expect([a.optim, a.lrSchedulerType, a.seed, a.saveSteps, a.loggingSteps]).toEqual(['adamw_torch', 'linear', 42, 500, 500]);
  });

  it('reads the tutorial recipe in snake_case', () => {
    const a = validateTrainingArguments(TUTORIAL, quiet);
    expect(a).toMatchObject({ outputDir: './results', perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 4, learningRate: 2e-4, lrSchedulerType: 'cosine', numTrainEpochs: 1, loggingSteps: 10, fp16: true, gradientCheckpointing: true, bf16: false });
  });

  it('accepts old names and reports ignored CUDA/Hub keys', () => {
    const notes: string[] = [];
    const a = validateTrainingArguments({ evaluation_strategy: 'steps', overwrite_output_dir: true, tf32: true, optim: 'paged_adamw_8bit' }, { warn: (m) => notes.push(m) });
    expect(a.evalStrategy).toBe('steps');
    expect(a.evalSteps).toBe(500); // eval_steps falls back to logging_steps
    expect(notes.filter((n) => n.includes('is ignored'))).toHaveLength(2);
    expect(notes.some((n) => n.includes('paged_adamw_8bit'))).toBe(true);
  });

  it('names the field and the allowed values', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ per_device_train_batch_size: 0 }, /"perDeviceTrainBatchSize": expected an integer >= 1/],
      [{ learning_rate: '2e-4' }, /"learningRate"/],
      [{ lr_scheduler_type: 'reduce_lr_on_plateau' }, /"lrSchedulerType": expected one of "linear"/],
      [{ lr_scheduler_type: 'cosine', lr_scheduler_kwargs: { num_cycle: 1 } }, /did you mean "numCycles"/],
      [{ lr_scheduler_type: 'linear', lr_scheduler_kwargs: { num_cycles: 1 } }, /"num_cycles"/],
      [{ optim: 'adafactor' }, /"optim"/],
      [{ warmup_steps: 2.5 }, /"warmupSteps"/],
      [{ max_steps: 0 }, /"maxSteps"/],
      [{ fp16: true, bf16: true }, /"bf16": expected false when fp16 is true/],
      [{ adam_beta2: 1 }, /"adamBeta2"/],
      [{ load_best_model_at_end: true }, /"evalStrategy"/],
      [{ load_best_model_at_end: true, eval_strategy: 'steps', eval_steps: 300 }, /"saveSteps": expected a multiple of evalSteps \(300\)/],
      [{ learning_rat: 1e-4 }, /did you mean "learningRate"/],
    ];
    for (const [input, re] of bad) {
      expect(() => validateTrainingArguments(input, quiet), JSON.stringify(input)).toThrow(ConfigError);
      expect(() => validateTrainingArguments(input, quiet), JSON.stringify(input)).toThrow(re);
    }
  });
});

describe('validateSftConfig', () => {
  it("uses trl's defaults and overrides", () => {
    const c = validateSftConfig({}, quiet);
    expect(c).toEqual({ ...SFT_CONFIG_DEFAULTS, bf16: true });
    expect([c.learningRate, c.loggingSteps, c.gradientCheckpointing, c.maxLength, c.datasetTextField, c.packing]).toEqual([2e-5, 10, true, 1024, 'text', false]);
    expect(validateSftConfig({ fp16: true }, quiet).bf16).toBe(false);
  });

  it('accepts max_seq_length as the old name of maxLength, once', () => {
    expect(validateSftConfig({ ...TUTORIAL, max_seq_length: 512 }, quiet).maxLength).toBe(512);
    expect(validateSftConfig({ max_length: null }, quiet).maxLength).toBeNull();
    expect(() => validateSftConfig({ max_seq_length: 512, max_length: 256 }, quiet)).toThrow(/"maxLength"/);
  });

  it('names SFT fields in errors', () => {
    expect(() => validateSftConfig({ packing: true, max_length: null }, quiet)).toThrow(/"maxLength": expected a block length/);
    expect(() => validateSftConfig({ packing_strategy: 'ffd' }, quiet)).toThrow(/"packingStrategy": expected one of "bfd", "wrapped"/);
    expect(() => validateSftConfig({ loss_type: 'dft' }, quiet)).toThrow(/"lossType"/);
    expect(() => validateSftConfig({ dataset_text_feild: 'text' }, quiet)).toThrow(/did you mean "datasetTextField"/);
  });
});

describe('optimizer and schedule from arguments', () => {
  it('maps Adam fields and warmup onto @q/optim', () => {
    const a = validateTrainingArguments({ ...TUTORIAL, weight_decay: 0.01, warmup_ratio: 0.1, optim: 'paged_adamw_32bit' }, quiet);
    const { config, warnings } = adamWFromArgs(a);
    expect(config).toEqual({ lr: 2e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false });
    expect(warnings).toHaveLength(1);
    const lr = scheduleFromArgs(a, 100); // warmup = ceil(100 * 0.1) = 10
    expect(lr(5)).toBeCloseTo(1e-4, 18);
    expect(lr(10)).toBe(2e-4);
    expect(lr(55)).toBeCloseTo(1e-4, 15);
  });

  it('passes lr_scheduler_kwargs through', () => {
    const a = validateTrainingArguments({ lr_scheduler_type: 'cosine_with_restarts', learning_rate: 1, lr_scheduler_kwargs: { num_cycles: 2 } }, quiet);
    expect(scheduleFromArgs(a, 10)(5)).toBe(1);
  });
});
