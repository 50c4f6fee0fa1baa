/** The float64 reference of clipGradNorm, for tests. */
/** torch.nn.utils.clip_grad_norm_'s total L2 norm and clip coefficient, in float64. */
export function clipGradNormReference(grads: ArrayLike<number>[], maxNorm: number): { norm: number; coef: number } {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  const norm = Math.sqrt(ss);
  return { norm, coef: Math.min(1, maxNorm / (norm + 1e-6)) };
}
