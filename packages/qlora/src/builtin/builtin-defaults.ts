/**
 * Settings of the built-in demo (`qlora train` with no model): the seed tutorial's pipeline at a
 * size a 2-core CPU running WebGPU on lavapipe finishes in a few minutes. Each value is a default
 * only: a config that names a field keeps its own value.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The QLoRA setting, as the seed: NF4, double quantization. */
export const BUILTIN_QUANTIZATION = Object.freeze({
  loadIn4bit: true,
  bnb4bitQuantType: 'nf4',
  bnb4bitUseDoubleQuant: true,
  // NOTE: float32 rather than the seed's float16: lavapipe has no shader-f16, and the tiny model
  // gains nothing from half-precision compute.
  bnb4bitComputeDtype: 'float32',
});

/** LoRA r=16 on every linear layer (QLoRA paper: all linear layers matter more than the rank). */
export const BUILTIN_LORA = Object.freeze({
  r: 16,
  loraAlpha: 32,
  loraDropout: 0.0,
  targetModules: 'all-linear',
  bias: 'none',
  taskType: 'CAUSAL_LM',
});

/** Rows of the built-in chat set held out for the eval loss and the before/after answers. */
export const BUILTIN_TEST_SIZE = 8;

/** Where the demo writes when the config names no output_dir: outside the working tree. */
export const BUILTIN_OUTPUT_DIR = join(tmpdir(), 'qlora-demo');

/**
 * Training settings that make the random-initialised model visibly learn the tiny chat set in
 * about two minutes on a 2-core CPU: a high learning rate (a random model has nothing to forget;
 * 2e-2 diverges), loss on the assistant turns only (the answers are what the preview shows), and
 * no gradient checkpointing (the model is small; recomputing would only cost time). The cost of a
 * step is the 151k-token output layer, so batches are small and steps many.
 */
export function builtinTraining(withEval: boolean): Record<string, unknown> {
  return {
    outputDir: BUILTIN_OUTPUT_DIR,
    perDeviceTrainBatchSize: 4,
    perDeviceEvalBatchSize: 8,
    gradientAccumulationSteps: 1,
    learningRate: 1e-2,
    lrSchedulerType: 'cosine',
    warmupSteps: 3,
    maxSteps: 60,
    loggingSteps: 5,
    evalStrategy: withEval ? 'steps' : 'no',
    evalSteps: 20,
    saveStrategy: 'no',
    gradientCheckpointing: false,
    assistantOnlyLoss: true,
    maxLength: 128,
    seed: 0,
  };
}
