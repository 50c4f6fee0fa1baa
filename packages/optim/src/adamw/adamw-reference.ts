/**
 * torch.optim.AdamW's step in float64 on the host: the reference the GPU kernel is tested against.
 * Same formula order as the kernel (see adamw-kernel.ts), without f32 rounding.
 */
// param, grad, expAvg, expAvgSq: [n], updated in place
export interface AdamWReferenceState {
  param: Float64Array;
  expAvg: Float64Array;
  expAvgSq: Float64Array;
  /** Steps taken so far; incremented by {@link adamwStepReference}. */
  step: number;
}

export interface AdamWReferenceHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

/**
 * One AdamW step in float64 (torch's `_single_tensor_adam`, decoupled weight decay).
 *
 * @example
 * ```ts
 * const s = { param: Float64Array.from(p), expAvg: new Float64Array(n), expAvgSq: new Float64Array(n), step: 0 };
 * adamwStepReference(s, grad, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 });
 * ```
 */
export function adamwStepReference(s: AdamWReferenceState, grad: ArrayLike<number>, h: AdamWReferenceHyper, gradScale = 1): void {
  const [b1, b2] = h.betas;
  s.step++;
  const stepSize = h.lr / (1 - b1 ** s.step);
  const bc2Sqrt = Math.sqrt(1 - b2 ** s.step);
  for (let i = 0; i < s.param.length; i++) {
    const g = grad[i]! * gradScale;
    const p = s.param[i]! * (1 - h.lr * h.weightDecay);
    const m = (s.expAvg[i] = b1 * s.expAvg[i]! + (1 - b1) * g);
    const v = (s.expAvgSq[i] = b2 * s.expAvgSq[i]! + (1 - b2) * g * g);
    s.param[i] = p - (stepSize * m) / (Math.sqrt(v) / bc2Sqrt + h.eps);
  }
}
