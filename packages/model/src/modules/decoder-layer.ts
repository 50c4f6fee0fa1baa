/**
 * One decoder block of Llama/Qwen2/Mistral, in transformers' order:
 * h = h + o_proj(attn(rope(q_proj(ln1 h)), rope(k_proj(ln1 h)), v_proj(ln1 h)))
 * h = h + down_proj(silu(gate_proj(ln2 h)) · up_proj(ln2 h))
 */
// h: [B, T, D]; q: [B, T, Hq, Dh]; k/v: [B, T, Hkv, Dh]
import { add, attention, cast, isGradEnabled, rmsNorm, swiglu, type RotaryTables, type Tensor } from '@q/core';
import type { LinearLike } from './linear';
import type { ModelConfig } from '../config';
import type { LayerCache } from './kv-cache';

export const ATTN_PROJ = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const;
export const MLP_PROJ = ['gate_proj', 'up_proj', 'down_proj'] as const;
export type ProjName = (typeof ATTN_PROJ)[number] | (typeof MLP_PROJ)[number];

export interface LayerInputs {
  positions: Tensor;
  /** [B, S] i32, 1 where a key may be attended; absent when nothing is padded. */
  mask?: Tensor;
  /** [B, T] i32: the prompt's own columns of `mask`, for a prefill into an empty cache. */
  prefillMask?: Tensor;
  cache?: LayerCache;
  /** [B, T] i32 sample index of each token (padding-free packing): attention stays within a sample. */
  segments?: Tensor;
  /**
   * Dtype of the matmul inputs and outputs (fp16: 'f16'); the residual stream h stays in its own
   * dtype (f32), as with peft + autocast after prepare_model_for_kbit_training. Default h's dtype.
   */
  compute?: 'f32' | 'f16';
}

export class DecoderLayer {
  constructor(
    readonly cfg: ModelConfig,
    readonly proj: Record<ProjName, LinearLike>,
    public inputLayernorm: Tensor,
    public postAttentionLayernorm: Tensor,
  ) {}

  forward(h: Tensor, rot: RotaryTables, io: LayerInputs): Tensor {
    const { numAttentionHeads: Hq, numKeyValueHeads: Hkv, headDim: Dh, rmsNormEps: eps } = this.cfg;
    const [B, T] = h.shape as [number, number, number];
    const cd = io.compute ?? h.dtype;
    // Projection outputs join the residual stream in its dtype.
    const toH = (t: Tensor) => (t.dtype === h.dtype ? t : cast(t, h.dtype));
    const x = rmsNorm(h, this.inputLayernorm, eps, cd);
    let q = this.proj.q_proj.forward(x).reshape([B, T, Hq, Dh]);
    let k = this.proj.k_proj.forward(x).reshape([B, T, Hkv, Dh]);
    let v = this.proj.v_proj.forward(x).reshape([B, T, Hkv, Dh]);
    q = rot.apply(q, io.positions);
    k = rot.apply(k, io.positions);
    // Without gradients (generation, evaluation) flash attention runs: one dispatch instead of the
    // permutes, two matmuls and a masked softmax, and no [B, Hq, T, S] scores in memory. A prefill
    // into an empty cache attends over its own k/v and writes them to the cache beside.
    // NOTE: Node only for now. In headless Chromium (SwiftShader) the page's GPU process was lost
    // ("A valid external Instance reference no longer exists") during an evaluation on this path,
    // and the composed path runs there; real browser GPUs are untested.
    const inference = !isGradEnabled() && x.dev.info.runtime === 'node';
    let a: Tensor;
    if (io.cache && io.cache.length === 0 && inference && T > 1 && (!io.mask || io.prefillMask)) {
      io.cache.append(k, v);
      a = attention(q, k, v, { mask: io.prefillMask, causal: true, impl: 'flash' });
    } else {
      let kvLen = T;
      if (io.cache) ({ k, v, kvLen } = io.cache.append(k, v));
      a = attention(q, k, v, { mask: io.mask, causal: true, kvLen, segments: io.segments, impl: inference ? 'flash' : undefined });
    }
    a = a.reshape([B, T, Hq * Dh]);
    h = add(h, toH(this.proj.o_proj.forward(a)));
    const y = rmsNorm(h, this.postAttentionLayernorm, eps, cd);
    const m = swiglu(this.proj.gate_proj.forward(y), this.proj.up_proj.forward(y));
    return add(h, toH(this.proj.down_proj.forward(m)));
  }

  namedParameters(prefix: string): [string, Tensor][] {
    const out: [string, Tensor][] = [
      [`${prefix}.input_layernorm.weight`, this.inputLayernorm],
      [`${prefix}.post_attention_layernorm.weight`, this.postAttentionLayernorm],
    ];
    for (const p of [...ATTN_PROJ, ...MLP_PROJ]) {
      const group = (ATTN_PROJ as readonly string[]).includes(p) ? 'self_attn' : 'mlp';
      for (const [n, t] of this.proj[p].namedParameters()) out.push([`${prefix}.${group}.${p}.${n}`, t]);
    }
    return out;
  }

  release(): void {
    for (const p of Object.values(this.proj)) p.release();
    this.inputLayernorm.release();
    this.postAttentionLayernorm.release();
  }
}

/** HF module path of a projection: model.layers.{i}.self_attn.q_proj, model.layers.{i}.mlp.up_proj. */
export function projPath(layer: number, p: ProjName): string {
  return `model.layers.${layer}.${(ATTN_PROJ as readonly string[]).includes(p) ? 'self_attn' : 'mlp'}.${p}`;
}
