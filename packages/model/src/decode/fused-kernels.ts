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
export const UNIFORM_STRUCT = `struct U { L: u32, cap: u32, promptLen: u32, minNew: u32, penalty: f32, neos: u32, e0: u32, e1: u32, e2: u32, e3: u32, temperature: f32, topK: u32, topP: f32, r0: u32, r1: u32, r2: u32 };`;
export const UNIFORM_BYTES = 64;
export const MAX_EOS = 4;

/** How a GEMV's weight is stored: dense f32/f16 [N, K], or NF4 codes (8 per u32, bitsandbytes' nibble order) + f32 absmax per block. */
export type WeightFormat = WeightType | 'nf4';

/** A GEMV kernel's variant; the decoder binds tensors by the names {@link gemvSource} returns. */
export interface GemvSpec {
  B: number;
  K: number;
  N: number;
  fmt: WeightFormat;
  /** NF4 block size (a multiple of 32). */
  blocksize?: number;
  /** RMSNorm of x (weight `nw`, eps) before the product. */
  /**
   * RMSNorm statistics: computed by every workgroup (cheap for a few rows), or with `pre`, read
   * from `rs` ([B] inverse RMS from {@link rmsSource}, one dispatch before) when many rows would
   * make every workgroup re-read B·K activations.
   */
  norm?: { eps: number; pre?: boolean };
  /**
   * 'store': y = ·; 'bias': y = · + bias; 'swiglu': y = silu(x·w) · (x·w2); 'residual': h += ·;
   * 'head': repetition penalty / min-new-tokens on each logit and the workgroup's argmax into `part`;
   * 'logits': the same processed logits written to `y` (for sampling).
   */
  mode: 'store' | 'bias' | 'swiglu' | 'residual' | 'head' | 'logits';
  /** Unmerged LoRA in the epilogue: + scale[s] · lb[n, :] · lu[b, s·r : (s+1)·r] for the segment s that column n falls in (ends[s] exclusive). */
  lora?: { r: number; ends: number[]; scales: number[] };
}

/** Nested selects: the value of the first segment i with n < ends[i] (the last one otherwise). */
function pick(ends: number[], value: (i: number) => string): string {
  let e = value(ends.length - 1);
  for (let i = ends.length - 2; i >= 0; i--) e = `select(${e}, ${value(i)}, n < ${ends[i]}u)`;
  return e;
}

/**
 * GEMV y[b, n] = Σ_k x̂[b, k] · W[n, k] for B rows, x̂ = RMSNorm(x) when `norm`. Lanes accumulate
 * per row in registers; the cross-lane sums go through workgroup memory 16 rows at a time (256 ·
 * 16 floats), so batches up to 32 fit every adapter's 32 KiB.
 */
export function gemvSource(g: GemvSpec): { wgsl: string; names: string[] } {
  const { B, K, N, fmt, mode } = g;
  const K4 = K / 4;
  const RB = Math.min(B, 16);
  const names: string[] = [];
  const decl: string[] = [];
  const bind = (name: string, type: string, rw = false) => {
    decl.push(`@group(0) @binding(${names.length}) var<storage, ${rw ? 'read_write' : 'read'}> ${name}: array<${type}>;`);
    names.push(name);
  };
  const nf4 = fmt === 'nf4';
  const wtype = nf4 ? 'vec4<u32>' : `vec4<${fmt}>`;
  bind('x', 'vec4<f32>');
  if (g.norm) bind('nw', 'vec4<f32>');
  if (g.norm?.pre) bind('rs', 'f32');
  bind('w', wtype);
  if (nf4) bind('am', 'f32'), bind('qm', 'f32');
  if (mode === 'swiglu') {
    bind('w2', wtype);
    if (nf4) bind('am2', 'f32');
  }
  if (mode === 'bias') bind('bias', 'f32');
  if (g.lora) bind('lu', 'f32'), bind('lb', 'f32');
  if (mode === 'residual') bind('h', 'f32', true);
  else if (mode === 'head') bind('seen', 'u32'), bind('part', 'f32', true);
  else if (mode !== 'logits') bind('y', 'f32', true);
  if (mode === 'logits') bind('seen', 'u32'), bind('y', 'f32', true);
  if (mode === 'head' || mode === 'logits') decl.push(UNIFORM_STRUCT, `@group(0) @binding(${names.length}) var<uniform> u: U;`);
  const two = mode === 'swiglu';
  const KW = K / 32;
  const bs = g.blocksize ?? 64;
  const dense = (acc: string, wname: string) => `let wv = vec4<f32>(${wname}[n * ${K4}u + k]);
      for (var b = 0u; b < ${B}u; b++) { ${acc}[b] += dot(x[b * ${K4}u + k]${g.norm ? ' * gk' : ''}, wv); }`;
  const quad = (acc: string, wname: string, aname: string) => `{
        let a = ${aname}[(n * ${K}u + kw * 32u) / ${bs}u];
        let cw = ${wname}[n * ${KW}u + kw];
        for (var i = 0u; i < 4u; i++) {
          let c = cw[i];
          let w0 = vec4<f32>(qs[(c >> 4u) & 15u], qs[c & 15u], qs[(c >> 12u) & 15u], qs[(c >> 8u) & 15u]) * a;
          let w1 = vec4<f32>(qs[(c >> 20u) & 15u], qs[(c >> 16u) & 15u], qs[(c >> 28u) & 15u], qs[(c >> 24u) & 15u]) * a;
          let k4 = kw * 8u + i * 2u;
          ${g.norm ? 'let g0 = nw[k4]; let g1 = nw[k4 + 1u];' : 'let g0 = vec4<f32>(1.0); let g1 = g0;'}
          for (var b = 0u; b < ${B}u; b++) { ${acc}[b] += dot(x[b * ${K4}u + k4] * g0, w0) + dot(x[b * ${K4}u + k4 + 1u] * g1, w1); }
        }
      }`;
  const loop = nf4
    ? `for (var kw = lane; kw < ${KW}u; kw += 32u) {
      ${quad('acc', 'w', 'am')}
      ${two ? quad('acc2', 'w2', 'am2') : ''}
    }`
    : `for (var k = lane; k < ${K4}u; k += 32u) {
      ${g.norm ? 'let gk = nw[k];' : ''}
      { ${dense('acc', 'w')} }
      ${two ? `{ ${dense('acc2', 'w2')} }` : ''}
    }`;
  // Cross-lane sums of acc[b] per warp, RB rows at a time; body sees ob (row), ow (warp), on (column), v (sum).
  const reduce = (acc: string, body: string) => `
  for (var b0 = 0u; b0 < ${B}u; b0 += ${RB}u) {
    for (var r = 0u; r < ${RB}u; r++) { if (b0 + r < ${B}u) { red[r * 256u + tid] = ${acc}[b0 + r]; } }
    workgroupBarrier();
    if (tid < ${GEMV_COLS * RB}u) {
      let rr = tid % ${RB}u; let ob = b0 + rr; let ow = tid / ${RB}u; let on = wg * ${GEMV_COLS}u + ow;
      if (ob < ${B}u) {
        var v = 0.0;
        for (var l = 0u; l < 32u; l++) { v += red[rr * 256u + ow * 32u + l]; }
        ${body}
      }
    }
    workgroupBarrier();
  }`;
  const lora = g.lora
    ? `
    let seg = ${pick(g.lora.ends, (i) => `${i}u`)};
    let sc = ${pick(g.lora.ends, (i) => f(g.lora!.scales[i]!))};
    for (var j = lane; j < ${g.lora.r}u; j += 32u) {
      let bw = lb[n * ${g.lora.r}u + j] * sc;
      for (var b = 0u; b < ${B}u; b++) { acc[b] += bw * lu[b * ${g.lora.r * g.lora.ends.length}u + seg * ${g.lora.r}u + j]; }
    }`
    : '';
  const seenWords = Math.ceil(N / 32);
  const processed = `var lv = v;
        if (on >= ${N}u) { lv = -3.0e38; }
        else if (u.penalty != 1.0 && (seen[ob * ${seenWords}u + on / 32u] & (1u << (on % 32u))) != 0u) { lv = select(lv / u.penalty, lv * u.penalty, lv < 0.0); }
        // min new tokens: the token chosen here is new token number L + 1 - promptLen (0-based; the
        // cache holds the prompt and every new token but the one this step consumed).
        if (u.L + 1u - u.promptLen < u.minNew && ((u.neos > 0u && on == u.e0) || (u.neos > 1u && on == u.e1) || (u.neos > 2u && on == u.e2) || (u.neos > 3u && on == u.e3))) { lv = -3.0e38; }`;
  const epilogue: Record<GemvSpec['mode'], string> = {
    logits: reduce('acc', `${processed}
        if (on < ${N}u) { y[ob * ${N}u + on] = lv; }`),
    store: reduce('acc', `if (on < ${N}u) { y[ob * ${N}u + on] = v; }`),
    bias: reduce('acc', `if (on < ${N}u) { y[ob * ${N}u + on] = v + bias[on]; }`),
    residual: reduce('acc', `if (on < ${N}u) { h[ob * ${N}u + on] += v; }`),
    swiglu: `${reduce('acc', `gv[ob * ${GEMV_COLS}u + ow] = v;`)}
  ${reduce('acc2', `if (on < ${N}u) { let gg = gv[ob * ${GEMV_COLS}u + ow]; y[ob * ${N}u + on] = gg / (1.0 + exp(-gg)) * v; }`)}`,
    head: `${reduce(
      'acc',
      `${processed}
        gv[ob * ${GEMV_COLS}u + ow] = lv;`,
    )}
  if (tid < ${B}u) {
    var best = gv[tid * ${GEMV_COLS}u];
    var idx = wg * ${GEMV_COLS}u;
    for (var c = 1u; c < ${GEMV_COLS}u; c++) {
      let v = gv[tid * ${GEMV_COLS}u + c];
      if (v > best) { best = v; idx = wg * ${GEMV_COLS}u + c; }
    }
    let nparts = nwg.x * nwg.y;
    part[(tid * nparts + wg) * 2u] = best;
    part[(tid * nparts + wg) * 2u + 1u] = bitcast<f32>(idx);
  }`,
  };
  const wgsl = `${fmt === 'f16' ? 'enable f16;\n' : ''}${decl.join('\n')}
var<workgroup> red: array<f32, ${256 * RB}>;
var<workgroup> inv: array<f32, ${B}>;
${nf4 ? 'var<workgroup> qs: array<f32, 16>;' : ''}
${two || mode === 'head' ? `var<workgroup> gv: array<f32, ${GEMV_COLS * B}>;` : ''}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wg = wid.x + wid.y * nwg.x;
  ${nf4 ? 'if (tid < 16u) { qs[tid] = qm[tid]; }' : ''}
  ${
    g.norm?.pre
      ? `for (var b = tid; b < ${B}u; b += 256u) { inv[b] = rs[b]; }
  workgroupBarrier();`
      : g.norm
      ? `// RMSNorm statistics of each row (every workgroup recomputes them from cache-resident x).
  var ssq: array<f32, ${B}>;
  for (var k = tid; k < ${K4}u; k += 256u) { for (var b = 0u; b < ${B}u; b++) { let v = x[b * ${K4}u + k]; ssq[b] += dot(v, v); } }
  for (var b0 = 0u; b0 < ${B}u; b0 += ${RB}u) {
    for (var r = 0u; r < ${RB}u; r++) { if (b0 + r < ${B}u) { red[r * 256u + tid] = ssq[b0 + r]; } }
    workgroupBarrier();
    if (tid < ${RB}u && b0 + tid < ${B}u) {
      var ss = 0.0;
      for (var l = 0u; l < 256u; l++) { ss += red[tid * 256u + l]; }
      inv[b0 + tid] = inverseSqrt(ss / ${f(K)} + ${f(g.norm.eps)});
    }
    workgroupBarrier();
  }`
      : 'workgroupBarrier();'
  }
  let lane = tid % 32u;
  let n = wg * ${GEMV_COLS}u + tid / 32u;
  var acc: array<f32, ${B}>;
  ${two ? `var acc2: array<f32, ${B}>;` : ''}
  if (n < ${N}u) {
    ${loop}
    ${g.norm ? `for (var b = 0u; b < ${B}u; b++) { acc[b] *= inv[b]; ${two ? 'acc2[b] *= inv[b];' : ''} }` : ''}
    ${lora}
  }
  ${epilogue[mode]}
}`;
  return { wgsl, names };
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
