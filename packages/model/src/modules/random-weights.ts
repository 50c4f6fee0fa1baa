/**
 * Random weights in a real architecture's exact tensor names and shapes (transformers'
 * initializer: N(0, 0.02) for matrices, ones for norms, zeros for biases), generated on the host
 * from a seed so the same model can be rebuilt anywhere — by the tests, by the golden-fixture
 * script that hands it to transformers, and by the built-in demo.
 */
import { Rng, type SafetensorsEntry } from '@q/core';
import type { ModelConfig } from '../config';
import { ATTN_PROJ, MLP_PROJ, projPath } from './decoder-layer';

export function projShape(cfg: ModelConfig, p: string): [number, number] {
  const { hiddenSize: D, intermediateSize: F, numAttentionHeads: Hq, numKeyValueHeads: Hkv, headDim: Dh } = cfg;
  switch (p) {
    case 'q_proj':
      return [Hq * Dh, D];
    case 'k_proj':
    case 'v_proj':
      return [Hkv * Dh, D];
    case 'o_proj':
      return [D, Hq * Dh];
    case 'gate_proj':
    case 'up_proj':
      return [F, D];
    default:
      return [D, F];
  }
}

export function hasBias(cfg: ModelConfig, p: string): boolean {
  if (p === 'q_proj' || p === 'k_proj' || p === 'v_proj') return cfg.qkvBias;
  if (p === 'o_proj') return cfg.oBias;
  return cfg.mlpBias;
}

/** Every tensor name and shape of a checkpoint of this architecture. */
export function checkpointLayout(cfg: ModelConfig): [string, number[]][] {
  const D = cfg.hiddenSize;
  const out: [string, number[]][] = [['model.embed_tokens.weight', [cfg.vocabSize, D]]];
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    out.push([`model.layers.${i}.input_layernorm.weight`, [D]]);
    out.push([`model.layers.${i}.post_attention_layernorm.weight`, [D]]);
    for (const p of [...ATTN_PROJ, ...MLP_PROJ]) {
      const shape = projShape(cfg, p);
      out.push([`${projPath(i, p)}.weight`, shape]);
      if (hasBias(cfg, p)) out.push([`${projPath(i, p)}.bias`, [shape[0]]]);
    }
  }
  out.push(['model.norm.weight', [D]]);
  if (!cfg.tieWordEmbeddings) out.push(['lm_head.weight', [cfg.vocabSize, D]]);
  return out;
}

/**
 * Seeded random f32 weights for every tensor of the architecture.
 *
 * @example
 * ```ts
 * const tensors = randomWeights(cfg, 0); // Record<name, {dtype:'F32', shape, data}>
 * ```
 */
export function randomWeights(cfg: ModelConfig, seed: number, std = 0.02, o: { embedStd?: number } = {}): Record<string, SafetensorsEntry> {
  const out: Record<string, SafetensorsEntry> = {};
  let k = 0;
  for (const [name, shape] of checkpointLayout(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('layernorm.weight') || name === 'model.norm.weight') {
      // Not exactly ones, so a test notices a norm weight that is ignored.
      const rng = new Rng(seed * 7919 + ++k);
      for (let i = 0; i < n; i++) data[i] = 1 + 0.1 * rng.normal();
    } else {
      const rng = new Rng(seed * 7919 + ++k);
      // A larger embedding scale stands in for a trained model's: with 0.02 and a frozen final
      // norm, logits cannot move far enough for a small test run to learn anything.
      const s = name.endsWith('.bias') ? std * 5 : name === 'model.embed_tokens.weight' || name === 'lm_head.weight' ? (o.embedStd ?? std) : std;
      for (let i = 0; i < n; i++) data[i] = s * rng.normal();
    }
    out[name] = { dtype: 'F32', shape, data };
  }
  return out;
}
