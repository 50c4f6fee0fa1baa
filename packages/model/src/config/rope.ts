import type { ModelConfig } from './model-config';

/**
 * RoPE inverse frequencies θ_i = rope_theta^(-2i/head_dim), i < head_dim/2, in float64, with the
 * config's scaling applied as transformers' modeling_rope_utils does: linear divides every
 * frequency by `factor`; llama3 divides low frequencies, keeps high ones, and blends between.
 *
 * @example
 * ```ts
 * ropeInverseFrequencies(cfg) // Float64Array(headDim / 2)
 * ```
 */
export function ropeInverseFrequencies(cfg: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const half = cfg.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / cfg.ropeTheta ** ((2 * i) / cfg.headDim);
  const rs = cfg.ropeScaling;
  if (rs === null) return inv;
  if (rs.type === 'linear') return inv.map((f) => f / rs.factor);
  const lowWavelen = rs.originalMaxPositionEmbeddings / rs.lowFreqFactor;
  const highWavelen = rs.originalMaxPositionEmbeddings / rs.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / rs.factor;
    const smooth = (rs.originalMaxPositionEmbeddings / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
    return ((1 - smooth) * f) / rs.factor + smooth * f;
  });
}
