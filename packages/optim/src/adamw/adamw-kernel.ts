/**
 * The fused AdamW update of one parameter, in torch.optim.AdamW's order of operations
 * (`_single_tensor_adam` with decoupled weight decay), one element per thread:
 *
 *   g  = grad · gradScale · scaleBuf[0]       (loss normalisation, then a clip coefficient)
 *   p  = p · (1 − lr·wd)                       (decoupled weight decay, first)
 *   m  = lerp(m, g, 1 − β1)                    (torch: exp_avg.lerp_(grad, 1 - beta1))
 *   v  = v · β2 + (1 − β2) · g · g             (exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2))
 *   p  = p + (−stepSize · m) / (sqrt(v) / sqrt(bc2) + eps)
 *
 * with stepSize = lr / (1 − β1^t) and sqrt(bc2) = sqrt(1 − β2^t) computed on the host in float64,
 * as torch computes them in Python floats. Everything that changes per step is a uniform, so the
 * pipeline is compiled once for every parameter and every step.
 */
// param, grad, expAvg, expAvgSq: [n] f32; scale: [1] f32 (a GPU clip coefficient, or 1)
import type { KernelDecl } from '@q/core/kernel';
import { LINEAR_INDEX } from '@q/core/kernel';

/** Host-side scalars of one step, as {@link adamwUniforms} packs them. */
export interface AdamWStepScalars {
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count of this parameter, after the increment (torch's `state['step']`). */
  step: number;
  /** Multiplies the gradient before anything else; 1 for none. */
  gradScale: number;
}

export const ADAMW_KERNEL: KernelDecl = {
  name: 'adamw_step',
  bindings: [
    { name: 'param', dtype: 'f32', access: 'read_write' },
    { name: 'grad', dtype: 'f32' },
    { name: 'expAvg', dtype: 'f32', access: 'read_write' },
    { name: 'expAvgSq', dtype: 'f32', access: 'read_write' },
    { name: 'scale', dtype: 'f32' },
  ],
  uniforms: [
    ['n', 'u32'],
    ['decay', 'f32'], // 1 − lr·wd
    ['beta1', 'f32'],
    ['w1', 'f32'], // lerp weight 1 − β1
    ['beta2', 'f32'],
    ['w2', 'f32'], // 1 − β2
    ['negStepSize', 'f32'], // −lr / (1 − β1^t)
    ['bc2Sqrt', 'f32'], // sqrt(1 − β2^t)
    ['eps', 'f32'],
    ['gradScale', 'f32'],
  ],
  body: `
  let i = ${LINEAR_INDEX};
  if (i >= u.n) { return; }
  let g = grad[i] * u.gradScale * scale[0];
  let p = param[i] * u.decay;
  // ATen's lerp: start + w·(end − start) for |w| < 0.5, else end − (end − start)·(1 − w).
  let m0 = expAvg[i];
  var m: f32;
  if (abs(u.w1) < 0.5) { m = m0 + u.w1 * (g - m0); } else { m = g - (g - m0) * (1.0 - u.w1); }
  let v = expAvgSq[i] * u.beta2 + u.w2 * g * g;
  let denom = sqrt(v) / u.bc2Sqrt + u.eps;
  expAvg[i] = m;
  expAvgSq[i] = v;
  param[i] = p + u.negStepSize * m / denom;`,
};

/** Uniform values of {@link ADAMW_KERNEL}, derived in float64 as torch derives them in Python. */
export function adamwUniforms(s: AdamWStepScalars): number[] {
  const bc1 = 1 - s.beta1 ** s.step;
  const bc2 = 1 - s.beta2 ** s.step;
  return [
    s.n,
    1 - s.lr * s.weightDecay,
    s.beta1,
    1 - s.beta1,
    s.beta2,
    1 - s.beta2,
    -(s.lr / bc1),
    Math.sqrt(bc2),
    s.eps,
    s.gradScale,
  ];
}
