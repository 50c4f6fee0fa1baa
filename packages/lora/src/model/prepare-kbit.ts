/**
 * prepare_model_for_kbit_training: freeze the base, keep norms (and embeddings/head) in f32, and
 * turn on gradient checkpointing. Input gradients need no hook here: @q/core's checkpoint()
 * gives its output a gradient path even when no input requires grad (users.md #1).
 */
import type { CausalLM } from '@q/model';

export interface PrepareOptions {
  /** Default true, as in peft. */
  useGradientCheckpointing?: boolean;
}

/**
 * @example
 * ```ts
 * const model = prepareModelForKbitTraining(await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig }));
 * ```
 */
export function prepareModelForKbitTraining(model: CausalLM, o: PrepareOptions = {}): CausalLM {
  for (const [, t] of model.namedParameters()) t.requiresGrad = false;
  // Norm weights and embeddings are loaded in f32 by @q/model already: nothing to upcast.
  if (o.useGradientCheckpointing ?? true) model.gradientCheckpointingEnable();
  model.useCache = false;
  return model;
}
