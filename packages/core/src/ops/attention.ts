/**
 * Scaled dot-product attention with grouped-query heads, causal masking, padding masks and a KV
 * cache. P = softmax(scale·Q·Kᵀ + mask), O = P·V.
 *
 * Training and prefill (every cache slot valid, kvLen = Smax) run either flash attention
 * (flash-attention.ts: no S×S tensor) or ops — permute, the tiled matmul, maskedSoftmax — with
 * P [B, Hq, T, S] kept for backward; see {@link attentionSettings}.
 * Decoding against a partly filled cache (kvLen < Smax) uses the fused kernels below, whose
 * backward recomputes P instead of storing it.
 */
// q: [B, T, Hq, D], k/v: [B, Smax, Hkv, D] (first kvLen positions valid), mask: [B, Smax] i32 (1 = attend)
// out: [B, T, Hq, D]; query t sits at absolute position kvLen − T + t
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { ShapeError } from '../errors';
import { tidy } from '../scope';
import { ROW_MAX_SUM } from './softmax';
import { matmul } from './matmul';
import { permute } from './permute';
import { maskedSoftmax } from './masked-softmax';
import { flashAttention } from './flash-attention';

export interface AttentionAttrs {
  scale: number;
  causal: boolean;
  /** Valid key/value positions (≤ the cache's capacity). */
  kvLen: number;
}

interface Geo {
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  D: number;
  Smax: number;
  S: number;
  hasMask: boolean;
}

function geometry(q: readonly number[], k: readonly number[], v: readonly number[], mask: readonly number[] | undefined, kvLen: number): Geo {
  if (q.length !== 4 || k.length !== 4) throw new ShapeError(`attention: q [${q}] and k [${k}] must be [B, T, H, D]`);
  const [B, T, Hq, D] = q as [number, number, number, number];
  const [Bk, Smax, Hkv, Dk] = k as [number, number, number, number];
  if (Bk !== B || Dk !== D || Hq % Hkv !== 0) throw new ShapeError(`attention: q [${q}] and k [${k}] do not fit (batch, head dim, heads divisible)`);
  if (v.join() !== k.join()) throw new ShapeError(`attention: v [${v}] must match k [${k}]`);
  if (kvLen > Smax || kvLen < T) throw new ShapeError(`attention: kvLen ${kvLen} must be in [T=${T}, ${Smax}]`);
  if (mask && (mask.length !== 2 || mask[0] !== B || mask[1] !== Smax)) throw new ShapeError(`attention: mask [${mask}] must be [${B}, ${Smax}]`);
  return { B, T, Hq, Hkv, D, Smax, S: kvLen, hasMask: !!mask };
}

const UNIFORMS: [string, 'u32' | 'f32'][] = [
  ['T', 'u32'],
  ['S', 'u32'],
  ['Smax', 'u32'],
  ['offset', 'u32'],
  ['scale', 'f32'],
];
const uvals = (g: Geo, a: AttentionAttrs) => [g.T, g.S, g.Smax, g.S - g.T, a.scale];
const NEG = -1e30;

/** P [B, Hq, T, S]: masked scores, then row softmax (fully masked rows become zeros). */
function probabilities(q: Tensor, k: Tensor, mask: Tensor | undefined, g: Geo, a: AttentionAttrs): Tensor {
  const { B, T, Hq, Hkv, D, S } = g;
  const p = empty([B, Hq, T, S], 'f32', q.dev);
  const group = Hq / Hkv;
  launch(
    {
      name: 'attn_scores',
      bindings: [
        { name: 'q', dtype: q.dtype },
        { name: 'k', dtype: k.dtype },
        { name: 'm', dtype: mask?.dtype ?? q.dtype },
        { name: 'p', dtype: 'f32', access: 'read_write' },
      ],
      uniforms: UNIFORMS,
      body: `let i = ${LINEAR_INDEX}; if (i >= ${B * Hq}u * u.T * u.S) { return; }
let s = i % u.S; let t = (i / u.S) % u.T; let h = (i / (u.S * u.T)) % ${Hq}u; let b = i / (u.S * u.T * ${Hq}u);
var ok = true;
${a.causal ? 'if (s > t + u.offset) { ok = false; }' : ''}
${g.hasMask ? 'if (m[b * u.Smax + s] == 0) { ok = false; }' : ''}
if (!ok) { p[i] = ${NEG}; return; }
let qo = ((b * u.T + t) * ${Hq}u + h) * ${D}u;
let ko = ((b * u.Smax + s) * ${Hkv}u + h / ${group}u) * ${D}u;
var acc = 0.0;
for (var d = 0u; d < ${D}u; d++) { acc += f32(q[qo + d]) * f32(k[ko + d]); }
p[i] = acc * u.scale;`,
    },
    [q, k, mask ?? q, p],
    grid1d(p.size),
    uvals(g, a),
  );
  const rows = B * Hq * T;
  launch(
    {
      name: 'attn_softmax',
      bindings: [{ name: 'p', dtype: 'f32', access: 'read_write' }],
      uniforms: [
        ['S', 'u32'],
        ['rows', 'u32'],
      ],
      header: ROW_MAX_SUM,
      body: `let row = wid.x + wid.y * nwg.x; if (row >= u.rows) { return; }
let base = row * u.S;
var mx = ${NEG};
for (var i = lid.x; i < u.S; i += WG) { mx = max(mx, p[base + i]); }
mx = reduce_max(mx, lid.x);
// A row with every key masked (a left-padding query) attends to nothing: zeros, not NaN.
let dead = mx <= ${NEG / 2};
var sm = 0.0;
for (var i = lid.x; i < u.S; i += WG) { sm += exp(p[base + i] - mx); }
sm = reduce_sum(sm, lid.x);
for (var i = lid.x; i < u.S; i += WG) { p[base + i] = select(exp(p[base + i] - mx) / sm, 0.0, dead); }`,
    },
    [p],
    grid1d(rows, 1),
    [S, rows],
  );
  return p;
}

function attentionGpu(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, a: AttentionAttrs): Tensor {
  const g = geometry(q.shape, k.shape, v.shape, mask?.shape, a.kvLen);
  const p = probabilities(q, k, mask, g, a);
  const o = empty(q.shape, q.dtype, q.dev);
  const { Hq, Hkv, D } = g;
  launch(
    {
      name: 'attn_pv',
      bindings: [
        { name: 'p', dtype: 'f32' },
        { name: 'v', dtype: v.dtype },
        { name: 'o', dtype: q.dtype, access: 'read_write' },
      ],
      uniforms: UNIFORMS,
      body: `let i = ${LINEAR_INDEX}; if (i >= ${g.B * Hq * D}u * u.T) { return; }
let d = i % ${D}u; let h = (i / ${D}u) % ${Hq}u; let t = (i / ${D * Hq}u) % u.T; let b = i / (${D * Hq}u * u.T);
let po = ((b * ${Hq}u + h) * u.T + t) * u.S;
let hk = h / ${Hq / Hkv}u;
var acc = 0.0;
for (var s = 0u; s < u.S; s++) { acc += p[po + s] * f32(v[((b * u.Smax + s) * ${Hkv}u + hk) * ${D}u + d]); }
o[i] = ${WGSL_TYPE[q.dtype]}(acc);`,
    },
    [p, v, o],
    grid1d(o.size),
    uvals(g, a),
  );
  p.release();
  return o;
}

function attentionBackward(dO: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, mask: Tensor | undefined, a: AttentionAttrs): Tensor[] {
  const g = geometry(q.shape, k.shape, v.shape, mask?.shape, a.kvLen);
  const { B, Hq, Hkv, D } = g;
  const group = Hq / Hkv;
  const p = probabilities(q, k, mask, g, a);
  // dS = P ∘ (dO·Vᵀ − rowsum(dO∘O)), next to P: dV needs P as well.
  const ds = empty(p.shape, 'f32', p.dev);
  launch(
    {
      name: 'attn_ds',
      bindings: [
        { name: 'dO', dtype: dO.dtype },
        { name: 'v', dtype: v.dtype },
        { name: 'o', dtype: o.dtype },
        { name: 'p', dtype: 'f32' },
        { name: 'ds', dtype: 'f32', access: 'read_write' },
      ],
      uniforms: UNIFORMS,
      body: `let i = ${LINEAR_INDEX}; if (i >= ${B * Hq}u * u.T * u.S) { return; }
let pv = p[i]; if (pv == 0.0) { ds[i] = 0.0; return; }
let s = i % u.S; let t = (i / u.S) % u.T; let h = (i / (u.S * u.T)) % ${Hq}u; let b = i / (u.S * u.T * ${Hq}u);
let qo = ((b * u.T + t) * ${Hq}u + h) * ${D}u;
let vo = ((b * u.Smax + s) * ${Hkv}u + h / ${group}u) * ${D}u;
var dp = 0.0; var dd = 0.0;
for (var d = 0u; d < ${D}u; d++) { let g = f32(dO[qo + d]); dp += g * f32(v[vo + d]); dd += g * f32(o[qo + d]); }
ds[i] = pv * (dp - dd);`,
    },
    [dO, v, o, p, ds],
    grid1d(p.size),
    uvals(g, a),
  );
  const dq = empty(q.shape, q.dtype, q.dev);
  launch(
    {
      name: 'attn_dq',
      bindings: [
        { name: 'ds', dtype: 'f32' },
        { name: 'k', dtype: k.dtype },
        { name: 'dq', dtype: q.dtype, access: 'read_write' },
      ],
      uniforms: UNIFORMS,
      body: `let i = ${LINEAR_INDEX}; if (i >= ${B * Hq * D}u * u.T) { return; }
let d = i % ${D}u; let h = (i / ${D}u) % ${Hq}u; let t = (i / ${D * Hq}u) % u.T; let b = i / (${D * Hq}u * u.T);
let po = ((b * ${Hq}u + h) * u.T + t) * u.S;
var acc = 0.0;
for (var s = 0u; s < u.S; s++) { acc += ds[po + s] * f32(k[((b * u.Smax + s) * ${Hkv}u + h / ${group}u) * ${D}u + d]); }
dq[i] = ${WGSL_TYPE[q.dtype]}(acc * u.scale);`,
    },
    [ds, k, dq],
    grid1d(dq.size),
    uvals(g, a),
  );
  // dK = scale·dSᵀ·Q and dV = Pᵀ·dO, summed over the query heads that share a KV head.
  const dk = empty(k.shape, k.dtype, k.dev);
  const dv = empty(v.shape, v.dtype, v.dev);
  launch(
    {
      name: 'attn_dkv',
      bindings: [
        { name: 'ds', dtype: 'f32' },
        { name: 'pr', dtype: 'f32' },
        { name: 'q', dtype: q.dtype },
        { name: 'dO', dtype: dO.dtype },
        { name: 'dk', dtype: k.dtype, access: 'read_write' },
        { name: 'dv', dtype: v.dtype, access: 'read_write' },
      ],
      uniforms: UNIFORMS,
      body: `let i = ${LINEAR_INDEX}; if (i >= ${B * Hkv * D}u * u.Smax) { return; }
let d = i % ${D}u; let hk = (i / ${D}u) % ${Hkv}u; let s = (i / ${D * Hkv}u) % u.Smax; let b = i / (${D * Hkv}u * u.Smax);
var ak = 0.0; var av = 0.0;
if (s < u.S) {
  for (var j = 0u; j < ${group}u; j++) {
    let h = hk * ${group}u + j;
    for (var t = 0u; t < u.T; t++) {
      let pi = ((b * ${Hq}u + h) * u.T + t) * u.S + s;
      let qi = ((b * u.T + t) * ${Hq}u + h) * ${D}u + d;
      ak += ds[pi] * f32(q[qi]);
      av += pr[pi] * f32(dO[qi]);
    }
  }
}
dk[i] = ${WGSL_TYPE[k.dtype]}(ak * u.scale);
dv[i] = ${WGSL_TYPE[v.dtype]}(av);`,
    },
    [ds, p, q, dO, dk, dv],
    grid1d(dk.size),
    uvals(g, a),
  );
  p.release();
  ds.release();
  return [dq, dk, dv];
}

function attentionCpu([q, k, v, mask]: CpuTensor[], a: AttentionAttrs): CpuTensor {
  const g = geometry(q!.shape, k!.shape, v!.shape, mask?.shape, a.kvLen);
  const { B, T, Hq, Hkv, D, Smax, S } = g;
  const out = new Float64Array(q!.data.length);
  const sc = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let t = 0; t < T; t++) {
        let mx = -Infinity;
        for (let s = 0; s < S; s++) {
          const ok = (!a.causal || s <= t + S - T) && (!mask || mask.data[b * Smax + s] !== 0);
          if (!ok) {
            sc[s] = -Infinity;
            continue;
          }
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q!.data[((b * T + t) * Hq + h) * D + d]! * k!.data[((b * Smax + s) * Hkv + hk) * D + d]!;
          sc[s] = acc * a.scale;
          mx = Math.max(mx, sc[s]!);
        }
        if (mx === -Infinity) continue;
        let z = 0;
        for (let s = 0; s < S; s++) z += sc[s] === -Infinity ? 0 : Math.exp(sc[s]! - mx);
        for (let s = 0; s < S; s++) {
          if (sc[s] === -Infinity) continue;
          const pr = Math.exp(sc[s]! - mx) / z;
          for (let d = 0; d < D; d++) out[((b * T + t) * Hq + h) * D + d]! += pr * v!.data[((b * Smax + s) * Hkv + hk) * D + d]!;
        }
      }
    }
  return { shape: q!.shape, data: out };
}

export const attentionOp = /* @__PURE__ */ defineOp<AttentionAttrs>({
  name: 'attention',
  cpu: attentionCpu,
  gpu: ([q, k, v, m], a) => attentionGpu(q!, k!, v!, m, a),
  save: (inputs, out) => [...inputs, out],
  backward: (dO, { saved, attrs }) => {
    const [q, k, v] = saved as [Tensor, Tensor, Tensor];
    const hasMask = saved.length === 5;
    const o = saved[saved.length - 1]!;
    const grads: (Tensor | null)[] = attentionBackward(dO, q, k, v, o, hasMask ? saved[3] : undefined, attrs);
    if (hasMask) grads.push(null);
    return grads;
  },
});

/**
 * Attention as matmuls. The G = Hq/Hkv query heads of a KV head are adjacent (h = hk·G + j), so
 * [B, Hq, T, D] is [B·Hkv, G·T, D]: each KV head multiplies its whole group in one batch entry.
 * That needs no copy of K/V per query head (torch's repeat_kv), and the matmul backward sums dK/dV
 * over the group by itself.
 */
// q: [B, T, Hq, D], k/v: [B, S, Hkv, D] (all S valid), mask: [B, S] i32; out: [B, T, Hq, D]
function attentionComposed(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, a: AttentionAttrs): Tensor {
  const g = geometry(q.shape, k.shape, v.shape, mask?.shape, a.kvLen);
  const { B, T, Hq, Hkv, D, S } = g;
  const G = Hq / Hkv;
  // Intermediates go as soon as they are used; the tape keeps what backward needs.
  return tidy(() => {
    const qh = permute(q, [0, 2, 1, 3]).reshape([B * Hkv, G * T, D]);
    const kh = permute(k, [0, 2, 1, 3]).reshape([B * Hkv, S, D]);
    const vh = permute(v, [0, 2, 1, 3]).reshape([B * Hkv, S, D]);
    const scores = matmul(qh, kh, { transB: true }).reshape([B, Hq, T, S]);
    const p = maskedSoftmax(scores, mask, a).reshape([B * Hkv, G * T, S]);
    const o = matmul(p, vh).reshape([B, Hq, T, D]);
    return permute(o, [0, 2, 1, 3]);
  });
}

/**
 * Attention through the fused kernels, whatever the cache fill: what {@link attention} runs when
 * decoding against a partly filled cache, and the reference the composed path is tested against.
 */
export function attentionFused(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { mask?: Tensor; causal?: boolean; scale?: number; kvLen?: number } = {},
): Tensor {
  return attentionOp(o.mask ? [q, k, v, o.mask] : [q, k, v], attentionAttrs(q, k, o));
}

function attentionAttrs(q: Tensor, k: Tensor, o: { causal?: boolean; scale?: number; kvLen?: number }): AttentionAttrs {
  return {
    scale: o.scale ?? 1 / Math.sqrt(q.shape[3]!),
    causal: o.causal ?? true,
    kvLen: o.kvLen ?? k.shape[1]!,
  };
}

/**
 * Which kernels attention uses when every key is valid (training, prefill): 'flash' (online
 * softmax, no S×S tensor kept for backward), 'composed' (the tiled matmul and a masked softmax,
 * P [B, Hq, T, S] kept for backward), or 'auto' (default): flash once one layer's P would exceed
 * `flashAboveBytes`, composed below. Packed samples (segments) always take flash.
 *
 * NOTE: on the H200 at the seed's shape (B=2, T=512, 14/2 heads, P = 29 MiB per layer) the
 * composed path was faster: 5,222 vs 4,597 tok/s with checkpointing, 6,661 vs 5,965 without
 * (2026-11-29); flash saved 0.76 GiB of peak memory without checkpointing. Its kernels keep one
 * query (or key) row per thread and use no tensor cores; until they move onto the tiled GEMM
 * template, flash pays where P is large (long sequences) rather than at 512 tokens.
 */
export const attentionSettings: { impl: 'auto' | 'flash' | 'composed'; flashAboveBytes: number } = { impl: 'auto', flashAboveBytes: 256 * 2 ** 20 };

/**
 * Causal (or full) attention over grouped-query heads.
 *
 * @example
 * ```ts
 * // q: [B, T, 14, 64], k/v: [B, T, 2, 64], mask: [B, T] i32
 * const o = attention(q, k, v, { mask, causal: true });
 * ```
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: {
    mask?: Tensor;
    causal?: boolean;
    scale?: number;
    kvLen?: number;
    /** [B, T] i32: packed samples attend only within their segment (flash path only). */
    segments?: Tensor;
    /** Kernel choice when every key is valid; default {@link attentionSettings}.impl. */
    impl?: 'auto' | 'flash' | 'composed';
  } = {},
): Tensor {
  const attrs = attentionAttrs(q, k, o);
  if (attrs.kvLen === k.shape[1]) {
    const impl = o.impl ?? attentionSettings.impl;
    const [B, T, Hq, D] = q.shape as [number, number, number, number];
    const pBytes = B * Hq * T * k.shape[1]! * 4;
    // The flash kernels load heads as vec4s: other head sizes take the composed path.
    const flash = D % 4 === 0 && (impl === 'flash' || (impl === 'auto' && pBytes > attentionSettings.flashAboveBytes));
    if (flash || o.segments) {
      return flashAttention(q, k, v, { mask: o.mask, segments: o.segments, causal: attrs.causal, scale: attrs.scale });
    }
    return attentionComposed(q, k, v, o.mask, attrs);
  }
  if (o.segments) throw new ShapeError('attention: segments need every key valid (no partly filled KV cache)');
  return attentionOp(o.mask ? [q, k, v, o.mask] : [q, k, v], attrs);
}
