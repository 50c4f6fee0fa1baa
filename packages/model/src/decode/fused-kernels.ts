/**
 * WGSL of the fused decode step (one token per row, B rows), five kernels per decoder layer:
 *   normGemv('qkv')    RMSNorm(h) · [Wq; Wk; Wv]ᵀ + bias                    -> qkv [B, Nqkv]
 *   attention          RoPE(q), RoPE(k) and the new k/v appended to the cache, softmax(q·Kᵀ/√d)·V
 *                      over the cache with an online softmax in chunks         -> a [B, Hq·Dh]
 *   gemvResidual       h += a · Woᵀ
 *   normGemv('gateup') silu(RMSNorm(h) · Wgᵀ) · (RMSNorm(h) · Wuᵀ)             -> m [B, I]
 *   gemvResidual       h += m · Wdᵀ
 * plus the embedding gather before the layers and, after them, normGemv('head') (final norm, lm_head,
 * repetition penalty and min-new-tokens in the epilogue, a per-workgroup argmax instead of logits)
 * and argmaxFinal (the token of each row, written where the next step's gather reads it).
 * Shapes and model constants are baked into the source (one decoder per model shape and batch);
 * the cache length L is the only per-step value (a uniform).
 *
 * The GEMVs are gemv.ts's. Activations and accumulation are f32.
 */
import { UNIFORM_STRUCT, type WeightType } from './gemv';

export interface DecodeShape {
  B: number;
  D: number;
  Hq: number;
  Hkv: number;
  Dh: number;
  I: number;
  V: number;
  eps: number;
  /** Rows of the RoPE tables. */
  maxPos: number;
}

export { gemvSource, gemvPlan, MAX_EOS, UNIFORM_BYTES, UNIFORM_STRUCT, type GemvSpec, type GemvPlan, type WeightFormat, type WeightType } from './gemv';

const f = (x: number) => (Number.isInteger(x) ? `${x}.0` : `${x}`);

function head(wt: WeightType, cacheT: WeightType): string {
  return wt === 'f16' || cacheT === 'f16' ? 'enable f16;\n' : '';
}

/** h[b, :] = E[tok[b], :]. */
export function embedSource(s: DecodeShape, et: WeightType): string {
  return `${head(et, 'f32')}@group(0) @binding(0) var<storage, read> tok: array<i32>;
@group(0) @binding(1) var<storage, read> e: array<${et}>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x; let b = gid.y;
  if (d >= ${s.D}u) { return; }
  h[b * ${s.D}u + d] = f32(e[u32(tok[b]) * ${s.D}u + d]);
}`;
}

export const ATTN_WG = 64;
/** Most key splits per (head, row) (flash-decoding); sizes the partials buffer. */
export const ATTN_MAX_SPLITS = 32;

/**
 * Key splits for cache length L (the new token at slot L): about enough workgroups to fill a
 * large GPU (264) over Hq·B (head, row) pairs, at least 64 keys (one pass of the workgroup) per split. Returns keys per split
 * (`u.r0`) and the number of splits (`u.r1`); one split means no combine dispatch.
 */
export function attentionSplits(L: number, pairs: number): { chunk: number; splits: number } {
  const want = Math.max(1, Math.min(ATTN_MAX_SPLITS, Math.floor(264 / pairs)));
  let chunk = Math.max(ATTN_WG, Math.ceil((L + 1) / want));
  let splits = Math.ceil((L + 1) / chunk);
  if (splits > ATTN_MAX_SPLITS) (chunk = Math.ceil((L + 1) / ATTN_MAX_SPLITS)), (splits = Math.ceil((L + 1) / chunk));
  return { chunk, splits };
}

/**
 * Split-K (flash-decoding) attention: one workgroup per (query head, row, key split). Split s
 * covers cache slots [s·chunk, (s+1)·chunk) ∩ [pads[b], L]; the new token sits at slot L and keys
 * before pads[b] are left padding. Each workgroup ropes its own copy of q and of the new k (so no
 * workgroup reads a slot another one is writing); the first query head of each kv group, in split 0,
 * stores k and v into the cache. A workgroup runs an online softmax over its keys, 64 at a time,
 * and leaves (max, sum, Σ p·v) in `part` ([B, Hq, splits, Dh + 2]) for {@link attentionCombineSource};
 * with one split it writes the normalised output straight to `a`.
 */
export function attentionSource(s: DecodeShape, cacheT: WeightType): string {
  const { Hq, Hkv, Dh } = s;
  const half = Dh / 2;
  const G = Hq / Hkv;
  const nqkv = (Hq + 2 * Hkv) * Dh;
  const C = cacheT;
  const W = ATTN_WG;
  const DPT = Math.ceil(Dh / W); // output dims per lane
  return `${head('f32', cacheT)}@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> cs: array<f32>;
@group(0) @binding(2) var<storage, read> sn: array<f32>;
@group(0) @binding(3) var<storage, read> pads: array<i32>;
@group(0) @binding(4) var<storage, read_write> kc: array<${C}>;
@group(0) @binding(5) var<storage, read_write> vc: array<${C}>;
@group(0) @binding(6) var<storage, read_write> a: array<f32>;
@group(0) @binding(7) var<storage, read_write> part: array<f32>;
${UNIFORM_STRUCT}
@group(0) @binding(8) var<uniform> u: U;
var<workgroup> q: array<f32, ${Dh}>;
var<workgroup> kn: array<f32, ${Dh}>;
var<workgroup> vn: array<f32, ${Dh}>;
var<workgroup> p: array<f32, ${W}>;
var<workgroup> mx: array<f32, ${W}>;
@compute @workgroup_size(${W})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let h = wid.x; let b = wid.y; let sp = wid.z; let kvh = h / ${G}u;
  let L = u.L; let pad = u32(pads[b]);
  let chunk = u.r0; let splits = u.r1;
  let pos = min(L - pad, ${s.maxPos - 1}u);
  let qo = b * ${nqkv}u + h * ${Dh}u;
  let ko = b * ${nqkv}u + ${Hq * Dh}u + kvh * ${Dh}u;
  let vo = b * ${nqkv}u + ${(Hq + Hkv) * Dh}u + kvh * ${Dh}u;
  for (var j = tid; j < ${half}u; j += ${W}u) {
    let c = cs[pos * ${half}u + j]; let sv = sn[pos * ${half}u + j];
    let q1 = qkv[qo + j]; let q2 = qkv[qo + j + ${half}u];
    q[j] = q1 * c - q2 * sv; q[j + ${half}u] = q2 * c + q1 * sv;
    let k1 = qkv[ko + j]; let k2 = qkv[ko + j + ${half}u];
    kn[j] = k1 * c - k2 * sv; kn[j + ${half}u] = k2 * c + k1 * sv;
  }
  for (var d = tid; d < ${Dh}u; d += ${W}u) { vn[d] = qkv[vo + d]; }
  workgroupBarrier();
  let row = (b * u.cap) * ${Hkv}u + kvh;
  if (h % ${G}u == 0u && sp == 0u) {
    for (var d = tid; d < ${Dh}u; d += ${W}u) {
      kc[(row + L * ${Hkv}u) * ${Dh}u + d] = ${C}(kn[d]);
      vc[(row + L * ${Hkv}u) * ${Dh}u + d] = ${C}(vn[d]);
    }
  }
  let k0 = max(pad, sp * chunk);
  let k1 = min(L + 1u, (sp + 1u) * chunk);
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, ${DPT}>;
  for (var start = k0; start < k1; start += ${W}u) {
    let j = start + tid;
    var sc = -3.0e38;
    if (j < k1) {
      var dp = 0.0;
      if (j < L) {
        let base = (row + j * ${Hkv}u) * ${Dh}u;
        for (var d = 0u; d < ${Dh}u; d++) { dp += q[d] * f32(kc[base + d]); }
      } else {
        for (var d = 0u; d < ${Dh}u; d++) { dp += q[d] * kn[d]; }
      }
      sc = dp * ${f(1 / Math.sqrt(Dh))};
    }
    mx[tid] = sc;
    workgroupBarrier();
    for (var st = ${W / 2}u; st > 0u; st >>= 1u) {
      if (tid < st) { mx[tid] = max(mx[tid], mx[tid + st]); }
      workgroupBarrier();
    }
    let cmax = max(m, mx[0]);
    p[tid] = select(0.0, exp(sc - cmax), j < k1);
    workgroupBarrier();
    let corr = exp(m - cmax);
    var psum = 0.0;
    let n = min(${W}u, k1 - start);
    for (var i = 0u; i < ${DPT}u; i++) { acc[i] *= corr; }
    for (var t = 0u; t < n; t++) {
      let pt = p[t];
      psum += pt;
      let jj = start + t;
      for (var i = 0u; i < ${DPT}u; i++) {
        let d = tid + i * ${W}u;
        if (d < ${Dh}u) {
          let vv = select(f32(vc[(row + jj * ${Hkv}u) * ${Dh}u + d]), vn[d], jj == L);
          acc[i] += pt * vv;
        }
      }
    }
    l = l * corr + psum;
    m = cmax;
    workgroupBarrier();
  }
  if (splits == 1u) {
    for (var i = 0u; i < ${DPT}u; i++) {
      let d = tid + i * ${W}u;
      if (d < ${Dh}u) { a[b * ${Hq * Dh}u + h * ${Dh}u + d] = acc[i] / l; }
    }
  } else {
    let po = ((b * ${Hq}u + h) * splits + sp) * ${Dh + 2}u;
    if (tid == 0u) { part[po] = m; part[po + 1u] = l; }
    for (var i = 0u; i < ${DPT}u; i++) {
      let d = tid + i * ${W}u;
      if (d < ${Dh}u) { part[po + 2u + d] = acc[i]; }
    }
  }
}`;
}

/** a[b, h, :] from the splits' (max, sum, Σ p·v): one workgroup per (query head, row). */
export function attentionCombineSource(s: DecodeShape): string {
  const { Hq, Dh } = s;
  return `@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
${UNIFORM_STRUCT}
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(${Math.max(32, Dh)})
fn main(@builtin(local_invocation_index) d: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let h = wid.x; let b = wid.y; let splits = u.r1;
  let base = (b * ${Hq}u + h) * splits;
  var M = -3.0e38;
  for (var sp = 0u; sp < splits; sp++) { M = max(M, part[(base + sp) * ${Dh + 2}u]); }
  var l = 0.0;
  var acc = 0.0;
  for (var sp = 0u; sp < splits; sp++) {
    let o = (base + sp) * ${Dh + 2}u;
    let w = exp(part[o] - M);
    l += w * part[o + 1u];
    if (d < ${Dh}u) { acc += w * part[o + 2u + d]; }
  }
  if (d < ${Dh}u) { a[b * ${Hq * Dh}u + h * ${Dh}u + d] = acc / l; }
}`;
}

/** Reduces the head kernel's per-workgroup (value, index) pairs to each row's token; marks it seen. */
export function argmaxFinalSource(s: DecodeShape, parts: number): string {
  const seenWords = Math.ceil(s.V / 32);
  return `@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> tok: array<i32>;
@group(0) @binding(2) var<storage, read_write> seen: array<u32>;
var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let b = wid.x;
  var best = -3.4e38;
  var idx = 0xffffffffu;
  for (var i = tid; i < ${parts}u; i += 256u) {
    let v = part[(b * ${parts}u + i) * 2u];
    let j = bitcast<u32>(part[(b * ${parts}u + i) * 2u + 1u]);
    if (v > best || (v == best && j < idx)) { best = v; idx = j; }
  }
  bv[tid] = best; bi[tid] = idx;
  workgroupBarrier();
  for (var st = 128u; st > 0u; st >>= 1u) {
    if (tid < st) {
      let v = bv[tid + st]; let j = bi[tid + st];
      if (v > bv[tid] || (v == bv[tid] && j < bi[tid])) { bv[tid] = v; bi[tid] = j; }
    }
    workgroupBarrier();
  }
  if (tid == 0u) {
    let t = bi[0];
    tok[b] = i32(t);
    seen[b * ${seenWords}u + t / 32u] |= 1u << (t % 32u);
  }
}`;
}

/** Candidates kept for top-p and the draw (top-k above this falls back to the eager path). */
export const SAMPLE_CAP = 1024;

/**
 * Sampling as the host's chain does it (transformers' order), one workgroup per row, on the
 * processed logits: temperature, top-k (the k-th largest found by bisection on order-preserving
 * float keys, ties kept), top-p over the kept tokens sorted ascending (a prefix whose mass stays
 * ≤ 1 − p is removed, the best token always stays), then the inverse CDF of one uniform number
 * `rnd[step · B + b]` walking the kept tokens in vocabulary order, as `sample()` does.
 */
export function sampleSource(s: DecodeShape): string {
  const { V, B } = s;
  const seenWords = Math.ceil(V / 32);
  const C = SAMPLE_CAP;
  return `@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> rnd: array<f32>;
@group(0) @binding(2) var<storage, read_write> tok: array<i32>;
@group(0) @binding(3) var<storage, read_write> seen: array<u32>;
${UNIFORM_STRUCT}
@group(0) @binding(4) var<uniform> u: U;
var<workgroup> redu: array<u32, 256>;
var<workgroup> cv: array<f32, ${C}>;
var<workgroup> ci: array<u32, ${C}>;
var<workgroup> cnt: atomic<u32>;
var<workgroup> pick: u32;
fn key(v: f32) -> u32 { let b = bitcast<u32>(v); return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u); }
// Bitonic sort of (cv, ci) ascending; byIndex: by ci alone.
fn sortPairs(tid: u32, byIndex: bool) {
  for (var k = 2u; k <= ${C}u; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      for (var q = 0u; q < ${C / 256}u; q++) {
        let e = tid + q * 256u;
        let p = e ^ j;
        if (p > e) {
          let up = (e & k) == 0u;
          var gt: bool;
          if (byIndex) { gt = ci[e] > ci[p]; } else { gt = cv[e] > cv[p] || (cv[e] == cv[p] && ci[e] > ci[p]); }
          if (gt == up) {
            let tv = cv[e]; cv[e] = cv[p]; cv[p] = tv;
            let ti = ci[e]; ci[e] = ci[p]; ci[p] = ti;
          }
        }
      }
      workgroupBarrier();
    }
  }
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let b = wid.x;
  let base = b * ${V}u;
  let K = min(u.topK, ${V}u);
  // 1. The k-th largest key: the largest t with #{key >= t} >= K.
  var lo = 0u;
  var hi = 0xffffffffu;
  for (var it = 0u; it < 32u; it++) {
    if (lo >= hi) { break; }
    let mid = lo + (hi - lo) / 2u + 1u;
    var c = 0u;
    for (var i = tid; i < ${V}u; i += 256u) { if (key(y[base + i]) >= mid) { c++; } }
    redu[tid] = c;
    workgroupBarrier();
    for (var st = 128u; st > 0u; st >>= 1u) { if (tid < st) { redu[tid] += redu[tid + st]; } workgroupBarrier(); }
    let total = workgroupUniformLoad(&redu[0]);
    if (total >= K) { lo = mid; } else { hi = mid - 1u; }
  }
  // 2. Gather the kept tokens (scaled by 1/T), padding the rest of the sort buffer.
  if (tid == 0u) { atomicStore(&cnt, 0u); }
  for (var q = 0u; q < ${C / 256}u; q++) { cv[tid + q * 256u] = 3.0e38; ci[tid + q * 256u] = 0xffffffffu; }
  workgroupBarrier();
  for (var i = tid; i < ${V}u; i += 256u) {
    let v = y[base + i];
    if (key(v) >= lo) {
      let slot = atomicAdd(&cnt, 1u);
      if (slot < ${C}u) { cv[slot] = v / u.temperature; ci[slot] = i; }
    }
  }
  workgroupBarrier();
  let n = min(atomicLoad(&cnt), ${C}u);
  // 3. top-p over the kept tokens, ascending.
  sortPairs(tid, false);
  if (tid == 0u) {
    let mx = cv[n - 1u];
    var sum = 0.0;
    for (var j = 0u; j < n; j++) { sum += exp(cv[j] - mx); }
    var cum = 0.0;
    var start = 0u;
    if (u.topP < 1.0) {
      for (var j = 0u; j + 1u < n; j++) {
        cum += exp(cv[j] - mx) / sum;
        if (cum > 1.0 - u.topP) { break; }
        start = j + 1u;
      }
    }
    for (var j = 0u; j < start; j++) { ci[j] = 0xffffffffu; cv[j] = 3.0e38; }
  }
  workgroupBarrier();
  // 4. The draw, in vocabulary order.
  sortPairs(tid, true);
  if (tid == 0u) {
    var mx = -3.4e38;
    var m = 0u;
    for (var j = 0u; j < n; j++) { if (ci[j] == 0xffffffffu) { break; } mx = max(mx, cv[j]); m = j + 1u; }
    var sum = 0.0;
    for (var j = 0u; j < m; j++) { sum += exp(cv[j] - mx); }
    let r = rnd[(u.L + 1u - u.promptLen) * ${B}u + b];
    var cum = 0.0;
    var t = ci[m - 1u];
    for (var j = 0u; j < m; j++) {
      cum += exp(cv[j] - mx) / sum;
      if (r < cum) { t = ci[j]; break; }
    }
    tok[b] = i32(t);
    seen[b * ${seenWords}u + t / 32u] |= 1u << (t % 32u);
  }
}`;
}

/** rs[b] = 1 / sqrt(mean(x[b, :]²) + eps), one workgroup per row (the `pre` statistics of {@link gemvSource}). */
export function rmsSource(B: number, K: number, eps: number): string {
  const K4 = K / 4;
  return `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> rs: array<f32>;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let b = wid.x;
  var ss = 0.0;
  for (var k = tid; k < ${K4}u; k += 256u) { let v = x[b * ${K4}u + k]; ss += dot(v, v); }
  red[tid] = ss;
  workgroupBarrier();
  for (var st = 128u; st > 0u; st >>= 1u) { if (tid < st) { red[tid] += red[tid + st]; } workgroupBarrier(); }
  if (tid == 0u) { rs[b] = inverseSqrt(red[0] / ${f(K)} + ${f(eps)}); }
}`;
}
