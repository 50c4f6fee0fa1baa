/**
 * Settings of the built-in demo (`qlora train` with no model): the seed tutorial's pipeline at a
 * size a 2-core CPU running WebGPU on lavapipe finishes in a few minutes. Each value is a default
 * only: a config that names a field keeps its own value.
 * No Node imports here: a web page runs the same demo with these values (@q/qlora/demo).
 */

/** The QLoRA setting, as the seed: NF4, double quantization. */
export const BUILTIN_QUANTIZATION = Object.freeze({
  loadIn4bit: true,
  bnb4bitQuantType: 'nf4',
  bnb4bitUseDoubleQuant: true,
  // NOTE: float32 rather than the seed's float16: lavapipe has no shader-f16, and the tiny model
  // gains nothing from half-precision compute.
  bnb4bitComputeDtype: 'float32',
});

/**
 * LoRA r=16 on the layers that write into the residual stream (v, o, down) of every block: a
 * reply format is an output-side change, and on a CPU adapter each LoRA product is a few small
 * kernels whose launch cost, not arithmetic, dominates, so 12 LoRA layers train much faster than 28.
 */
export const BUILTIN_LORA = Object.freeze({
  r: 16,
  loraAlpha: 32,
  loraDropout: 0.0,
  targetModules: ['v_proj', 'o_proj', 'down_proj'],
  bias: 'none',
  taskType: 'CAUSAL_LM',
});

/** Rows of the tour-guide set held out for the before/after answers and the exact-match score. */
export const BUILTIN_TEST_SIZE = 16;

/**
 * Training settings that teach the built-in model the tour guide's reply in about a minute of
 * training on a 2-core CPU (the training loss is near zero by step 10): a high learning rate for LoRA (the
 * task is a reply format, not new knowledge), loss on the assistant turns only (the replies are what changes), no gradient
 * checkpointing (the model is small; recomputing would only cost time), and no periodic eval (the
 * `eval` section measures the held-out rows before and after). `builtinTraining()` adds the output folder.
 */
export const BUILTIN_TRAINING = Object.freeze({
  perDeviceTrainBatchSize: 4,
  perDeviceEvalBatchSize: 8,
  gradientAccumulationSteps: 1,
  learningRate: 3e-3,
  lrSchedulerType: 'cosine',
  warmupSteps: 2,
  maxSteps: 20,
  loggingSteps: 2,
  // The `eval` section measures the held-out rows before and after; no eval in between.
  evalStrategy: 'no',
  bf16: false,
  saveStrategy: 'no',
  gradientCheckpointing: false,
  assistantOnlyLoss: true,
  maxLength: 96,
  seed: 0,
});
