/**
 * Float64 reference forward of the decoder, composed from the ops' CPU references,
 * so the GPU model is checked against arithmetic that shares no kernel with it.
 */
import { ropeTables, type SafetensorsEntry } from '@q/core';
import { reference, type CpuTensor } from '@q/core/testing';
import { ropeInverseFrequencies, projPath, type ModelConfig } from '../src';

const ref = (op: string, xs: CpuTensor[], attrs?: unknown) => reference(op, attrs)(...xs);
const T = (shape: number[], data: ArrayLike<number>): CpuTensor => ({ shape, data: Float64Array.from(data) });

/** LoRA deltas by module path: y += (x·Aᵀ)·Bᵀ·scaling. */
export type CpuLora = Record<string, { A: CpuTensor; B: CpuTensor; scaling: number }>;

export function cpuForward(cfg: ModelConfig, w: Record<string, SafetensorsEntry>, ids: number[][], labels?: number[][], lora: CpuLora = {}) {
  const B = ids.length;
  const L = ids[0]!.length;
  const D = cfg.hiddenSize;
  const get = (n: string) => T(w[n]!.shape, w[n]!.data as Float32Array);
  const lin = (x: CpuTensor, p: string) => {
    let y = ref('matmul', [x, get(`${p}.weight`)], { transA: false, transB: true });
    if (w[`${p}.bias`]) y = ref('add', [y, get(`${p}.bias`)]);
    const l = lora[p];
    if (l) {
      const d = ref('matmul', [ref('matmul', [x, l.A], { transA: false, transB: true }), l.B], { transA: false, transB: true });
      y = ref('add', [y, { shape: d.shape, data: d.data.map((v) => v * l.scaling) }]);
    }
    return y;
  };
  const tabs = ropeTables(cfg.headDim, L, Float32Array.from(ropeInverseFrequencies(cfg)));
  const half = cfg.headDim / 2;
  const cos = T([L, half], tabs.cos);
  const sin = T([L, half], tabs.sin);
  const pos = T([B, L], ids.flatMap(() => [...Array(L).keys()]));
  let h = ref('embedding', [get('model.embed_tokens.weight'), T([B, L], ids.flat())]);
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const x = ref('rmsNorm', [T([B * L, D], h.data), get(`model.layers.${i}.input_layernorm.weight`)], { eps: cfg.rmsNormEps });
    const q = T([B, L, cfg.numAttentionHeads, cfg.headDim], lin(x, projPath(i, 'q_proj')).data);
    const k = T([B, L, cfg.numKeyValueHeads, cfg.headDim], lin(x, projPath(i, 'k_proj')).data);
    const v = T([B, L, cfg.numKeyValueHeads, cfg.headDim], lin(x, projPath(i, 'v_proj')).data);
    const qr = ref('rope', [q, cos, sin, pos], { inverse: false });
    const kr = ref('rope', [k, cos, sin, pos], { inverse: false });
    const a = ref('attention', [qr, kr, v], { scale: 1 / Math.sqrt(cfg.headDim), causal: true, kvLen: L });
    h = ref('add', [T([B * L, D], h.data), lin(T([B * L, cfg.numAttentionHeads * cfg.headDim], a.data), projPath(i, 'o_proj'))]);
    const y = ref('rmsNorm', [h, get(`model.layers.${i}.post_attention_layernorm.weight`)], { eps: cfg.rmsNormEps });
    const m = ref('swiglu', [lin(y, projPath(i, 'gate_proj')), lin(y, projPath(i, 'up_proj'))]);
    h = ref('add', [h, lin(m, projPath(i, 'down_proj'))]);
  }
  h = ref('rmsNorm', [h, get('model.norm.weight')], { eps: cfg.rmsNormEps });
  const head = w['lm_head.weight'] ? get('lm_head.weight') : get('model.embed_tokens.weight');
  const logits = ref('matmul', [h, head], { transA: false, transB: true });
  let loss: number | undefined;
  if (labels) {
    const shifted = labels.flatMap((r) => [...r.slice(1), -100]);
    loss = ref('crossEntropy', [logits, T([B * L], shifted)], { ignoreIndex: -100 }).data[0];
  }
  return { logits: logits.data, loss };
}
