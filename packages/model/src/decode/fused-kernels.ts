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
 * GEMV layout: a workgroup of 256 lanes = 8 warps of 32; each warp owns one output column and its
 * lanes stride over K in vec4 loads, so a warp streams 512 contiguous bytes of the weight row.
 * Weights are f32 or f16 (`wt`); activations and accumulation are f32.
 */

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

export type WeightType = 'f32' | 'f16';

const f = (x: number) => (Number.isInteger(x) ? `${x}.0` : `${x}`);

function head(wt: WeightType, cacheT: WeightType): string {
  return wt === 'f16' || cacheT === 'f16' ? 'enable f16;\n' : '';
}

export const GEMV_COLS = 8; // columns (warps) per workgroup

/**
 * The per-call values every step reads (one uniform buffer): cache length L (changes each step),
 * cache capacity, prompt length, min new tokens, repetition penalty and up to 4 eos ids. Keeping
 * them out of the source lets every generate() call on a model reuse the same pipelines.
 */
export const UNIFORM_STRUCT = `struct U { L: u32, cap: u32, promptLen: u32, minNew: u32, penalty: f32, neos: u32, e0: u32, e1: u32, e2: u32, e3: u32, r0: u32, r1: u32 };`;
export const UNIFORM_BYTES = 48;
export const MAX_EOS = 4;

/**
 * RMSNorm + GEMV. mode 'qkv': + bias; 'gateup': two weights, silu(g)·u; 'head': penalty and eos
 * suppression on each logit, then the workgroup's best (value, index) per row into `part`.
 */
export function normGemvSource(
  s: DecodeShape,
  wt: WeightType,
  mode: 'qkv' | 'gateup' | 'head',
  K: number,
  N: number,
): string {
  const { B } = s;
  const K4 = K / 4;
  const W = `vec4<${wt}>`;
  const bind: string[] = [
    `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;`,
    `@group(0) @binding(1) var<storage, read> nw: array<vec4<f32>>;`,
    `@group(0) @binding(2) var<storage, read> w: array<${W}>;`,
  ];
  if (mode === 'qkv') bind.push(`@group(0) @binding(3) var<storage, read> bias: array<f32>;`, `@group(0) @binding(4) var<storage, read_write> y: array<f32>;`);
  if (mode === 'gateup') bind.push(`@group(0) @binding(3) var<storage, read> w2: array<${W}>;`, `@group(0) @binding(4) var<storage, read_write> y: array<f32>;`);
  if (mode === 'head') {
    bind.push(
      `@group(0) @binding(3) var<storage, read> seen: array<u32>;`,
      `@group(0) @binding(4) var<storage, read_write> part: array<f32>;`,
      UNIFORM_STRUCT,
      `@group(0) @binding(5) var<uniform> u: U;`,
    );
  }
  const seenWords = Math.ceil(s.V / 32);
  const reduceAcc = (acc: string) => `
  for (var b = 0u; b < ${B}u; b++) { red[b * 256u + tid] = ${acc}[b]; }
  workgroupBarrier();`;
  return `${head(wt, 'f32')}${bind.join('\n')}
var<workgroup> red: array<f32, ${256 * B}>;
var<workgroup> inv: array<f32, ${B}>;
${mode === 'head' ? `var<workgroup> bv: array<f32, ${GEMV_COLS * B}>; var<workgroup> bi: array<u32, ${GEMV_COLS * B}>;` : ''}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wg = wid.x + wid.y * nwg.x;
  // RMSNorm statistics of each row (every workgroup recomputes them: K·B reads from cache).
  for (var b = 0u; b < ${B}u; b++) {
    var ss = 0.0;
    for (var k = tid; k < ${K4}u; k += 256u) { let v = x[b * ${K4}u + k]; ss += dot(v, v); }
    red[b * 256u + tid] = ss;
  }
  workgroupBarrier();
  if (tid < ${B}u) {
    var ss = 0.0;
    for (var l = 0u; l < 256u; l++) { ss += red[tid * 256u + l]; }
    inv[tid] = inverseSqrt(ss / ${f(K)} + ${f(s.eps)});
  }
  workgroupBarrier();
  let lane = tid % 32u;
  let warp = tid / 32u;
  let n = wg * ${GEMV_COLS}u + warp;
  var acc: array<f32, ${B}>;
  ${mode === 'gateup' ? `var acc2: array<f32, ${B}>;` : ''}
  if (n < ${N}u) {
    for (var k = lane; k < ${K4}u; k += 32u) {
      let wv = vec4<f32>(w[n * ${K4}u + k]);
      ${mode === 'gateup' ? `let wv2 = vec4<f32>(w2[n * ${K4}u + k]);` : ''}
      let g = nw[k];
      for (var b = 0u; b < ${B}u; b++) {
        let xv = x[b * ${K4}u + k] * g;
        acc[b] += dot(xv, wv);
        ${mode === 'gateup' ? 'acc2[b] += dot(xv, wv2);' : ''}
      }
    }
  }
  ${reduceAcc('acc')}
  var out = 0.0;
  let ob = tid % ${B}u;
  let ow = tid / ${B}u;
  let on = wg * ${GEMV_COLS}u + ow;
  if (tid < ${GEMV_COLS * B}u) {
    for (var l = 0u; l < 32u; l++) { out += red[ob * 256u + ow * 32u + l]; }
    out *= inv[ob];
  }
  ${
    mode === 'gateup'
      ? `workgroupBarrier();
  ${reduceAcc('acc2')}
  if (tid < ${GEMV_COLS * B}u && on < ${N}u) {
    var up = 0.0;
    for (var l = 0u; l < 32u; l++) { up += red[ob * 256u + ow * 32u + l]; }
    up *= inv[ob];
    y[ob * ${N}u + on] = out / (1.0 + exp(-out)) * up;
  }`
      : mode === 'qkv'
        ? `if (tid < ${GEMV_COLS * B}u && on < ${N}u) { y[ob * ${N}u + on] = out + bias[on]; }`
        : `
  if (tid < ${GEMV_COLS * B}u) {
    var v = out;
    if (on >= ${N}u) { v = -3.0e38; }
    else if (u.penalty != 1.0 && (seen[ob * ${seenWords}u + on / 32u] & (1u << (on % 32u))) != 0u) { v = select(v / u.penalty, v * u.penalty, v < 0.0); }
    // min new tokens: the token chosen here is new token number L + 1 - promptLen (0-based; the
    // cache holds the prompt and every new token but the one this step consumed).
    if (u.L + 1u - u.promptLen < u.minNew && ((u.neos > 0u && on == u.e0) || (u.neos > 1u && on == u.e1) || (u.neos > 2u && on == u.e2) || (u.neos > 3u && on == u.e3))) { v = -3.0e38; }
    bv[ob * ${GEMV_COLS}u + ow] = v;
    bi[ob * ${GEMV_COLS}u + ow] = on;
  }
  workgroupBarrier();
  if (tid < ${B}u) {
    var best = bv[tid * ${GEMV_COLS}u];
    var idx = bi[tid * ${GEMV_COLS}u];
    for (var c = 1u; c < ${GEMV_COLS}u; c++) {
      let v = bv[tid * ${GEMV_COLS}u + c];
      if (v > best) { best = v; idx = bi[tid * ${GEMV_COLS}u + c]; }
    }
    let nparts = nwg.x * nwg.y;
    part[(tid * nparts + wg) * 2u] = best;
    part[(tid * nparts + wg) * 2u + 1u] = bitcast<f32>(idx);
  }`
  }
}`;
}

/** h[b, n] += x[b, :] · w[n, :] (o_proj and down_proj with their residual). */
export function gemvResidualSource(s: DecodeShape, wt: WeightType, K: number, N: number): string {
  const { B } = s;
  const K4 = K / 4;
  return `${head(wt, 'f32')}@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<${wt}>>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
var<workgroup> red: array<f32, ${256 * B}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wg = wid.x + wid.y * nwg.x;
  let lane = tid % 32u;
  let n = wg * ${GEMV_COLS}u + tid / 32u;
  var acc: array<f32, ${B}>;
  if (n < ${N}u) {
    for (var k = lane; k < ${K4}u; k += 32u) {
      let wv = vec4<f32>(w[n * ${K4}u + k]);
      for (var b = 0u; b < ${B}u; b++) { acc[b] += dot(x[b * ${K4}u + k], wv); }
    }
  }
  for (var b = 0u; b < ${B}u; b++) { red[b * 256u + tid] = acc[b]; }
  workgroupBarrier();
  let ob = tid % ${B}u;
  let on = wg * ${GEMV_COLS}u + tid / ${B}u;
  if (tid < ${GEMV_COLS * B}u && on < ${N}u) {
    var out = 0.0;
    for (var l = 0u; l < 32u; l++) { out += red[ob * 256u + (tid / ${B}u) * 32u + l]; }
    h[ob * ${N}u + on] += out;
  }
}`;
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

export const ATTN_WG = 128;

/**
 * One workgroup per (query head, row). The new token sits at cache slot L; keys before pads[b]
 * are left padding and are skipped. Each workgroup ropes its own copy of the new k (so no
 * workgroup reads a slot another one is writing); the first query head of each kv group stores
 * it, with v, into the cache.
 */
export function attentionSource(s: DecodeShape, cacheT: WeightType): string {
  const { Hq, Hkv, Dh } = s;
  const half = Dh / 2;
  const G = Hq / Hkv;
  const nqkv = (Hq + 2 * Hkv) * Dh;
  const C = cacheT;
  return `${head('f32', cacheT)}@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> cs: array<f32>;
@group(0) @binding(2) var<storage, read> sn: array<f32>;
@group(0) @binding(3) var<storage, read> pads: array<i32>;
@group(0) @binding(4) var<storage, read_write> kc: array<${C}>;
@group(0) @binding(5) var<storage, read_write> vc: array<${C}>;
@group(0) @binding(6) var<storage, read_write> a: array<f32>;
${UNIFORM_STRUCT}
@group(0) @binding(7) var<uniform> u: U;
var<workgroup> q: array<f32, ${Dh}>;
var<workgroup> kn: array<f32, ${Dh}>;
var<workgroup> vn: array<f32, ${Dh}>;
var<workgroup> p: array<f32, ${ATTN_WG}>;
@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let h = wid.x; let b = wid.y; let kvh = h / ${G}u;
  let L = u.L; let pad = u32(pads[b]);
  let pos = min(L - pad, ${s.maxPos - 1}u);
  let qo = b * ${nqkv}u + h * ${Dh}u;
  let ko = b * ${nqkv}u + ${Hq * Dh}u + kvh * ${Dh}u;
  let vo = b * ${nqkv}u + ${(Hq + Hkv) * Dh}u + kvh * ${Dh}u;
  for (var j = tid; j < ${half}u; j += ${ATTN_WG}u) {
    let c = cs[pos * ${half}u + j]; let sv = sn[pos * ${half}u + j];
    let q1 = qkv[qo + j]; let q2 = qkv[qo + j + ${half}u];
    q[j] = q1 * c - q2 * sv; q[j + ${half}u] = q2 * c + q1 * sv;
    let k1 = qkv[ko + j]; let k2 = qkv[ko + j + ${half}u];
    kn[j] = k1 * c - k2 * sv; kn[j + ${half}u] = k2 * c + k1 * sv;
  }
  for (var d = tid; d < ${Dh}u; d += ${ATTN_WG}u) { vn[d] = qkv[vo + d]; }
  workgroupBarrier();
  let row = (b * u.cap) * ${Hkv}u + kvh;
  if (h % ${G}u == 0u) {
    for (var d = tid; d < ${Dh}u; d += ${ATTN_WG}u) {
      kc[(row + L * ${Hkv}u) * ${Dh}u + d] = ${C}(kn[d]);
      vc[(row + L * ${Hkv}u) * ${Dh}u + d] = ${C}(vn[d]);
    }
  }
  var m = -3.0e38;
  var l = 0.0;
  var acc = 0.0;
  for (var start = pad; start <= L; start += ${ATTN_WG}u) {
    let j = start + tid;
    var sc = -3.0e38;
    if (j < L) {
      var dp = 0.0;
      let base = (row + j * ${Hkv}u) * ${Dh}u;
      for (var d = 0u; d < ${Dh}u; d++) { dp += q[d] * f32(kc[base + d]); }
      sc = dp * ${f(1 / Math.sqrt(Dh))};
    } else if (j == L) {
      var dp = 0.0;
      for (var d = 0u; d < ${Dh}u; d++) { dp += q[d] * kn[d]; }
      sc = dp * ${f(1 / Math.sqrt(Dh))};
    }
    p[tid] = sc;
    workgroupBarrier();
    var cmax = m;
    for (var t = 0u; t < ${ATTN_WG}u; t++) { cmax = max(cmax, p[t]); }
    workgroupBarrier();
    p[tid] = select(0.0, exp(sc - cmax), j <= L);
    workgroupBarrier();
    let corr = exp(m - cmax);
    var psum = 0.0;
    var pv = 0.0;
    let n = min(${ATTN_WG}u, L + 1u - start);
    for (var t = 0u; t < n; t++) {
      let pt = p[t];
      psum += pt;
      if (tid < ${Dh}u) {
        let jj = start + t;
        let vv = select(f32(vc[(row + jj * ${Hkv}u) * ${Dh}u + tid]), vn[tid], jj == L);
        pv += pt * vv;
      }
    }
    l = l * corr + psum;
    acc = acc * corr + pv;
    m = cmax;
    workgroupBarrier();
  }
  if (tid < ${Dh}u) { a[b * ${Hq * Dh}u + h * ${Dh}u + tid] = acc / l; }
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
