/**
 * The training settings the page offers, with the seed tutorial's defaults: 4-bit NF4 with double
 * quantization, LoRA r=64 / alpha 32 / dropout 0.1 on q/k/v, lr 2e-4 cosine, batch 2 × 4
 * accumulation, 512 tokens. The built-in demo lowers steps and raises lr so a few minutes show it.
 */
export interface Settings {
  loadIn4bit: boolean;
  quantType: 'nf4' | 'fp4';
  doubleQuant: boolean;
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: string[];
  learningRate: number;
  lrSchedulerType: 'cosine' | 'linear' | 'constant';
  perDeviceTrainBatchSize: number;
  gradientAccumulationSteps: number;
  maxLength: number;
  /** > 0: train this many optimizer steps; 0: numTrainEpochs. */
  maxSteps: number;
  numTrainEpochs: number;
  /** Rows held out for the before/after answers and the eval loss. */
  testSize: number;
  /** Held-out questions answered before and after training. */
  questions: number;
  /** New tokens per answer. */
  answerTokens: number;
  seed: number;
  /** Save a checkpoint (to the browser's private storage) every this many steps. */
  saveSteps: number;
  /** What the page may assume the GPU can hold, in GiB (WebGPU does not say). */
  memoryBudgetGiB: number;
}

export const SEED_SETTINGS: Readonly<Settings> = Object.freeze({
  loadIn4bit: true,
  quantType: 'nf4',
  doubleQuant: true,
  r: 64,
  loraAlpha: 32,
  loraDropout: 0.1,
  targetModules: ['q_proj', 'k_proj', 'v_proj'],
  learningRate: 2e-4,
  lrSchedulerType: 'cosine',
  perDeviceTrainBatchSize: 2,
  gradientAccumulationSteps: 4,
  maxLength: 512,
  maxSteps: 0,
  numTrainEpochs: 1,
  testSize: 4,
  questions: 4,
  answerTokens: 24,
  seed: 42,
  saveSteps: 10,
  memoryBudgetGiB: 4,
});

/** TrainingArguments for SFTTrainer from the page's settings. */
export function trainingArgs(s: Settings, outputDir: string): Record<string, unknown> {
  return {
    outputDir,
    perDeviceTrainBatchSize: s.perDeviceTrainBatchSize,
    gradientAccumulationSteps: s.gradientAccumulationSteps,
    learningRate: s.learningRate,
    lrSchedulerType: s.lrSchedulerType,
    maxSteps: s.maxSteps > 0 ? s.maxSteps : -1,
    numTrainEpochs: s.numTrainEpochs,
    maxLength: s.maxLength,
    loggingSteps: 1,
    evalStrategy: 'no',
    saveStrategy: 'steps',
    saveSteps: s.saveSteps,
    saveTotalLimit: 1,
    seed: s.seed,
  };
}

export function loraConfig(s: Settings): Record<string, unknown> {
  return { r: s.r, loraAlpha: s.loraAlpha, loraDropout: s.loraDropout, targetModules: s.targetModules, taskType: 'CAUSAL_LM' };
}

export function quantizationConfig(s: Settings): Record<string, unknown> | null {
  return s.loadIn4bit ? { loadIn4bit: true, bnb4bitQuantType: s.quantType, bnb4bitUseDoubleQuant: s.doubleQuant, bnb4bitComputeDtype: 'float32' } : null;
}
