/**
 * The decode GEMV, written for memory bandwidth: y[b, n] = Σ_k x̂[b, k] · W[n, k] for the B rows
 * of a decode step (x̂ = RMSNorm(x) when `norm`), W streamed once per step.
 *
 * Layout (a plan, {@link gemvPlan}): a workgroup of 256 lanes covers R = 256 / T output rows, T
 * lanes per row. W is read in 16-byte chunks (vec4<u32> of 8 f16 or 32 NF4 codes, vec4<f32> of 4
 * f32); lane t of a row reads chunks t, t + T, t + 2T, … and issues U of them before it uses any,
 * so several loads per lane are in flight. T is chosen so each lane makes a few loads while the
 * grid still has a few hundred workgroups (N = 896 rows of K = 896 must fill ~132 SMs). Every
 * weight load serves all BB batch rows of the workgroup (accumulators in registers, one per row:
 * a GEMM-like tile over the batch); batches beyond BB take further workgroups along z.
 *
 * Each lane's partial sums meet in workgroup memory `res` ([R, BB]): with subgroups by a
 * subgroupShuffleXor butterfly (lanes of one row share a subgroup when T ≤ subgroup size; above
 * that, one partial per subgroup goes through workgroup memory), without them by a plain sum over
 * workgroup memory. The epilogue (bias, residual, SwiGLU, the head's argmax) reads `res`.
 * NOTE: the subgroup variant assumes subgroups are consecutive local_invocation_index ranges
 * (true of every Vulkan, Metal and D3D12 driver for 1-D workgroups; WGSL does not promise it).
 *
 * Weights are dense f32/f16 [N, K] or NF4 codes (8 per u32, bitsandbytes' nibble order) with f32
 * absmax per block. f16 words are unpacked with unpack2x16float, so no shader-f16 is needed.
 * K need not be a multiple of the vector width: such a K takes scalar reads (slower, same sums).
 */
// x: [B, K] f32; W: [N, K]; y: [B, N] (or h: [B, N] += ·); lu: [B, S·r]; lb: [N, r]

export type WeightType = 'f32' | 'f16';
/** How a GEMV's weight is stored: dense f32/f16 [N, K], or NF4 codes (8 per u32, bitsandbytes' nibble order) + f32 absmax per block. */
export type WeightFormat = WeightType | 'nf4';

/**
 * The per-call values every step reads (one uniform buffer): cache length L (changes each step),
 * cache capacity, prompt length, min new tokens, repetition penalty and up to 4 eos ids. Keeping
 * them out of the source lets every generate() call on a model reuse the same pipelines.
 */
export const UNIFORM_STRUCT = `struct U { L: u32, cap: u32, promptLen: u32, minNew: u32, penalty: f32, neos: u32, e0: u32, e1: u32, e2: u32, e3: u32, temperature: f32, topK: u32, topP: f32, r0: u32, r1: u32, r2: u32 };`;
export const UNIFORM_BYTES = 64;
export const MAX_EOS = 4;

/** A GEMV kernel's variant; the decoder binds tensors by the names {@link gemvSource} returns. */
export interface GemvSpec {
  B: number;
  K: number;
  N: number;
  fmt: WeightFormat;
  /** NF4 block size (a multiple of 32). */
  blocksize?: number;
  /**
   * RMSNorm of x (weight `nw`, eps) before the product. Statistics computed by every workgroup
   * (cheap for a few rows), or with `pre`, read from `rs` ([B] inverse RMS from rmsSource, one
   * dispatch before) when many rows would make every workgroup re-read B·K activations.
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
  /** Reduce with subgroup operations (the device's 'subgroups' feature); default false (workgroup memory). */
  subgroups?: boolean;
  /** The adapter's smallest subgroup size (sizes the per-subgroup partials); default 4. */
  subgroupMinSize?: number;
}

/** How a GEMV spreads over the GPU (see the file comment). */
export interface GemvPlan {
  /** Lanes per output row. */
  T: number;
  /** Output rows per workgroup (256 / T). */
  R: number;
  /** Batch rows per workgroup; ceil(B / BB) workgroups along z. */
  BB: number;
  /** Weight values per 16-byte chunk (4 f32, 8 f16, 32 NF4). */
  VW: number;
  /** Chunks per weight row. */
  KC: number;
  /** K is a multiple of VW (vector reads of W and x). */
  aligned: boolean;
  /** Chunks each lane loads before it computes. */
  U: number;
  /** Workgroups: [x, y, z] (x·y workgroups of rows, exactly; z batch groups). */
  grid: [number, number, number];
}

export const GEMV_THREADS = 256;
/** Batch rows per workgroup at most (registers: one accumulator per row, two for SwiGLU). */
export const GEMV_MAX_BB = 32;
/** Workgroups a GEMV should at least have to fill a large GPU (2 per SM of a 132-SM H200). */
const TARGET_WGS = 264;

const pow2floor = (x: number) => 2 ** Math.floor(Math.log2(Math.max(1, x)));

export function gemvPlan(g: GemvSpec): GemvPlan {
  const VW = g.fmt === 'nf4' ? 32 : g.fmt === 'f16' ? 8 : 4;
  if (g.fmt === 'nf4' && g.K % 32) throw new Error(`gemv: NF4 needs K a multiple of 32 (K ${g.K})`);
  const KC = Math.ceil(g.K / VW);
  const BB = Math.min(g.B, GEMV_MAX_BB);
  // About 4 chunks per lane, then more lanes per row while the grid is small.
  let T = Math.min(GEMV_THREADS, Math.max(4, pow2floor(KC / 4)));
  const wgs = (t: number) => Math.ceil(g.N / (GEMV_THREADS / t));
  while (T < GEMV_THREADS && 2 * T <= KC && wgs(T) < TARGET_WGS) T *= 2;
  // Workgroup memory: R·BB results (twice for SwiGLU) stay within 1024 floats each.
  while (T < GEMV_THREADS && (GEMV_THREADS / T) * BB > 1024) T *= 2;
  const R = GEMV_THREADS / T;
  const iters = Math.ceil(KC / T);
  // Loads in flight: a few per lane at batch 1; a batch is compute-heavy and gives its own overlap.
  const U = Math.max(1, Math.min(iters, BB === 1 ? 4 : BB <= 4 ? 2 : 1));
  return { T, R, BB, VW, KC, aligned: g.K % VW === 0, U, grid: grid2(Math.ceil(g.N / R), Math.ceil(g.B / BB)) };
}

/** x·y = n exactly (the head's argmax parts index workgroups as wid.x + wid.y · nwg.x), each ≤ 65,535. */
function grid2(n: number, z: number): [number, number, number] {
  if (n <= 65535) return [n, 1, z];
  for (let y = Math.ceil(n / 65535); y <= n; y++) if (n % y === 0 && n / y <= 65535) return [n / y, y, z];
  throw new Error(`gemv: no grid for ${n} workgroups`);
}

const f = (x: number) => (Number.isInteger(x) ? `${x}.0` : `${x}`);
const rep = (n: number, fn: (i: number) => string, sep = '\n') => Array.from({ length: n }, (_, i) => fn(i)).join(sep);

/** Nested selects: the value of the first segment i with n < ends[i] (the last one otherwise). */
function pick(ends: number[], value: (i: number) => string): string {
  let e = value(ends.length - 1);
  for (let i = ends.length - 2; i >= 0; i--) e = `select(${e}, ${value(i)}, n < ${ends[i]}u)`;
  return e;
}

/** The WGSL of one GEMV variant and the names of its bindings, in binding order. */
export function gemvSource(g: GemvSpec): { wgsl: string; names: string[]; plan: GemvPlan } {
  const { B, K, N, fmt, mode } = g;
  const p = gemvPlan(g);
  const { T, R, BB, KC, U, aligned } = p;
  const nf4 = fmt === 'nf4';
  const two = mode === 'swiglu';
  const sg = !!g.subgroups;
  const names: string[] = [];
  const decl: string[] = [];
  const bind = (name: string, type: string, rw = false) => {
    decl.push(`@group(0) @binding(${names.length}) var<storage, ${rw ? 'read_write' : 'read'}> ${name}: array<${type}>;`);
    names.push(name);
  };
  // Dense W: vec4 chunks when aligned; else scalars (f16 pairs in u32 words).
  const wtype = nf4 ? 'vec4<u32>' : aligned ? (fmt === 'f16' ? 'vec4<u32>' : 'vec4<f32>') : fmt === 'f16' ? 'u32' : 'f32';
  const xtype = aligned ? 'vec4<f32>' : 'f32';
  bind('x', xtype);
  if (g.norm) bind('nw', xtype);
  if (g.norm?.pre) bind('rs', 'f32');
  bind('w', wtype);
  if (nf4) bind('am', 'f32'), bind('qm', 'f32');
  if (two) {
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

  const XS = aligned ? K / 4 : K; // x row stride in its binding's elements
  const accs = two ? ['acc', 'acc2'] : ['acc'];
  const ws = two ? ['w', 'w2'] : ['w'];
  const ams = two ? ['am', 'am2'] : ['am'];

  // One chunk c of row n: the load (into `r{a}_{u}`) and its use (accumulating every batch row).
  const load = (a: number, u: number) => {
    const c = `c${u}`;
    if (nf4) return `let r${a}_${u} = ${ws[a]}[n * ${KC}u + ${c}]; let s${a}_${u} = ${ams[a]}[(n * ${K}u + ${c} * 32u) / ${g.blocksize ?? 64}u];`;
    if (aligned) return `let r${a}_${u} = ${ws[a]}[n * ${KC}u + ${c}];`;
    return ''; // scalar reads happen in use()
  };
  const gx = (i: string) => (g.norm ? ` * nw[${i}]` : '');
  const use = (a: number, u: number) => {
    const c = `c${u}`;
    const acc = accs[a]!;
    const r = `r${a}_${u}`;
    if (nf4) {
      // 4 words of 8 codes: word q holds values 8q .. 8q+7 in the order (hi, lo) of each byte.
      const lines = [`{ let sc = s${a}_${u};`];
      for (let q = 0; q < 4; q++) {
        lines.push(`let q${q} = ${r}[${q}];
  let wa${q} = vec4<f32>(qs[(q${q} >> 4u) & 15u], qs[q${q} & 15u], qs[(q${q} >> 12u) & 15u], qs[(q${q} >> 8u) & 15u]) * sc;
  let wb${q} = vec4<f32>(qs[(q${q} >> 20u) & 15u], qs[(q${q} >> 16u) & 15u], qs[(q${q} >> 28u) & 15u], qs[(q${q} >> 24u) & 15u]) * sc;`);
      }
      if (g.norm) lines.push(rep(8, (i) => `let g${i} = nw[${c} * 8u + ${i}u];`));
      for (let b = 0; b < BB; b++) {
        const terms = rep(8, (i) => `dot(x[xb${b} + ${c} * 8u + ${i}u]${g.norm ? ` * g${i}` : ''}, ${i % 2 ? 'wb' : 'wa'}${i >> 1})`, ' + ');
        lines.push(`${acc}[${b}] += ${terms};`);
      }
      return `${lines.join('\n  ')} }`;
    }
    if (aligned && fmt === 'f16') {
      return `{ let wa = vec4<f32>(unpack2x16float(${r}.x), unpack2x16float(${r}.y)); let wb = vec4<f32>(unpack2x16float(${r}.z), unpack2x16float(${r}.w));
  ${g.norm ? `let ga = nw[${c} * 2u]; let gb = nw[${c} * 2u + 1u];` : ''}
  ${rep(BB, (b) => `${acc}[${b}] += dot(x[xb${b} + ${c} * 2u]${g.norm ? ' * ga' : ''}, wa) + dot(x[xb${b} + ${c} * 2u + 1u]${g.norm ? ' * gb' : ''}, wb);`, '\n  ')} }`;
    }
    if (aligned) {
      return `{ ${g.norm ? `let ga = nw[${c}];` : ''}
  ${rep(BB, (b) => `${acc}[${b}] += dot(x[xb${b} + ${c}]${g.norm ? ' * ga' : ''}, ${r});`, '\n  ')} }`;
    }
    // Scalar reads: K is not a multiple of the vector width.
    const wAt = fmt === 'f16' ? `unpack2x16float(${ws[a]}[e >> 1u])[e & 1u]` : `${ws[a]}[e]`;
    return `for (var v = 0u; v < ${p.VW}u; v++) {
    let k = ${c} * ${p.VW}u + v;
    if (k < ${K}u) { let e = n * ${K}u + k; let wv = ${wAt};${g.norm ? ' let gv = nw[k];' : ''}
      ${rep(BB, (b) => `${acc}[${b}] += x[xb${b} + k]${g.norm ? ' * gv' : ''} * wv;`, '\n      ')} }
  }`;
  };
  const iters = Math.ceil(KC / T);
  const steps = Math.ceil(iters / U);
  // Guards only where the chunk count does not divide evenly.
  const needGuard = KC % T !== 0 || iters % U !== 0;
  const body = rep(U, (u) => `let c${u} = t + (i + ${u}u) * ${T}u;`) + '\n' +
    (needGuard
      ? // Loads use a clamped chunk (always in bounds) so they can all issue; the use is guarded.
        rep(U, (u) => `let ok${u} = c${u} < ${KC}u;`) + '\n' + rep(U, (u) => accs.map((_, a) => load(a, u).replace(new RegExp(`\\bc${u}\\b`, 'g'), `min(c${u}, ${KC - 1}u)`)).join(' ')) + '\n' +
        rep(U, (u) => `if (ok${u}) {\n  ${accs.map((_, a) => use(a, u)).join('\n  ')}\n}`)
      : rep(U, (u) => accs.map((_, a) => load(a, u)).join(' ')) + '\n' + rep(U, (u) => accs.map((_, a) => use(a, u)).join('\n')));
  const loop = `for (var i = 0u; i < ${steps * U}u; i += ${U}u) {\n${body}\n}`;

  const lora = g.lora
    ? `{
    let seg = ${pick(g.lora.ends, (i) => `${i}u`)};
    let lsc = ${pick(g.lora.ends, (i) => f(g.lora!.scales[i]!))};
    for (var j = t; j < ${g.lora.r}u; j += ${T}u) {
      let bw = lb[n * ${g.lora.r}u + j] * lsc;
      ${rep(BB, (b) => `acc[${b}] += bw * lu[bi${b} * ${g.lora!.r * g.lora!.ends.length}u + seg * ${g.lora!.r}u + j];`, '\n      ')}
    }
  }`
    : '';

  // Partial sums -> res[r · BB + b] (and res2).
  const RB = Math.min(BB, 8);
  const SGMIN = Math.max(1, g.subgroupMinSize ?? 4);
  const redSize = sg ? Math.max(1, (GEMV_THREADS / SGMIN) * BB) : GEMV_THREADS * RB;
  const reduce = (acc: string, res: string) =>
    sg
      ? `${rep(BB, (b) => `{
    var v = ${acc}[${b}];
    for (var o = min(${T}u, sgs) >> 1u; o > 0u; o >>= 1u) { v += subgroupShuffleXor(v, o); }
    if (${T}u <= sgs) { if (t == 0u) { ${res}[row * ${BB}u + ${b}u] = v; } }
    else if (sgid == 0u) { red[(tid / sgs) * ${BB}u + ${b}u] = v; }
  }`)}
  workgroupBarrier();
  if (${T}u > sgs) {
    if (t == 0u) {
      let s0 = (row * ${T}u) / sgs;
      for (var b = 0u; b < ${BB}u; b++) {
        var v = 0.0;
        for (var s = 0u; s < ${T}u / sgs; s++) { v += red[(s0 + s) * ${BB}u + b]; }
        ${res}[row * ${BB}u + b] = v;
      }
    }
  }
  workgroupBarrier();`
      : rep(
          Math.ceil(BB / RB),
          (ch) => {
            const b0 = ch * RB;
            const nb = Math.min(RB, BB - b0);
            return `${rep(nb, (i) => `red[${i * GEMV_THREADS}u + tid] = ${acc}[${b0 + i}];`)}
  workgroupBarrier();
  for (var e = tid; e < ${R * nb}u; e += ${GEMV_THREADS}u) {
    let rr = e / ${nb}u; let bb = e % ${nb}u;
    var v = 0.0;
    for (var l = 0u; l < ${T}u; l++) { v += red[bb * ${GEMV_THREADS}u + rr * ${T}u + l]; }
    ${res}[rr * ${BB}u + ${b0}u + bb] = v;
  }
  workgroupBarrier();`;
          },
        );

  const seenWords = Math.ceil(N / 32);
  // The logit of column `on`, row `ob` after repetition penalty and min new tokens.
  const processed = `var lv = v;
      if (on >= ${N}u) { lv = -3.0e38; }
      else if (u.penalty != 1.0 && (seen[ob * ${seenWords}u + on / 32u] & (1u << (on % 32u))) != 0u) { lv = select(lv / u.penalty, lv * u.penalty, lv < 0.0); }
      // min new tokens: the token chosen here is new token number L + 1 - promptLen (0-based; the
      // cache holds the prompt and every new token but the one this step consumed).
      if (u.L + 1u - u.promptLen < u.minNew && ((u.neos > 0u && on == u.e0) || (u.neos > 1u && on == u.e1) || (u.neos > 2u && on == u.e2) || (u.neos > 3u && on == u.e3))) { lv = -3.0e38; }`;
  const each = (inner: string, all = false) => `for (var e = tid; e < ${R * BB}u; e += ${GEMV_THREADS}u) {
    let rr = e / ${BB}u; let on = wg * ${R}u + rr; let ob = bg * ${BB}u + e % ${BB}u;
    let v = res[e];
    if (${all ? '' : `on < ${N}u && `}ob < ${B}u) { ${inner} }
  }`;
  const epilogue: Record<GemvSpec['mode'], string> = {
    store: each(`y[ob * ${N}u + on] = v;`),
    bias: each(`y[ob * ${N}u + on] = v + bias[on];`),
    residual: each(`h[ob * ${N}u + on] += v;`),
    swiglu: each(`let gg = v; y[ob * ${N}u + on] = gg / (1.0 + exp(-gg)) * res2[e];`),
    logits: each(`${processed}\n      if (on < ${N}u) { y[ob * ${N}u + on] = lv; }`, true),
    head: `${each(`${processed}\n      res[e] = lv;`, true)}
  workgroupBarrier();
  if (tid < ${BB}u && bg * ${BB}u + tid < ${B}u) {
    var best = res[tid];
    var idx = wg * ${R}u;
    for (var c = 1u; c < ${R}u; c++) {
      let v = res[c * ${BB}u + tid];
      if (v > best) { best = v; idx = wg * ${R}u + c; }
    }
    let nparts = nwg.x * nwg.y;
    let ob = bg * ${BB}u + tid;
    part[(ob * nparts + wg) * 2u] = best;
    part[(ob * nparts + wg) * 2u + 1u] = bitcast<f32>(idx);
  }`,
  };

  const norm = g.norm?.pre
    ? `for (var b = tid; b < ${BB}u; b += ${GEMV_THREADS}u) { inv[b] = rs[min(bg * ${BB}u + b, ${B - 1}u)]; }
  workgroupBarrier();`
    : g.norm
      ? `// RMSNorm statistics of each row (every workgroup recomputes them from cache-resident x).
  ${rep(BB, (b) => `{ var ss = 0.0; for (var k = tid; k < ${XS}u; k += ${GEMV_THREADS}u) { let v = x[xb${b} + k]; ss += ${aligned ? 'dot(v, v)' : 'v * v'}; } nred[${b}u * ${GEMV_THREADS}u + tid] = ss; }`, '\n  ')}
  workgroupBarrier();
  if (tid < ${BB}u) {
    var ss = 0.0;
    for (var l = 0u; l < ${GEMV_THREADS}u; l++) { ss += nred[tid * ${GEMV_THREADS}u + l]; }
    inv[tid] = inverseSqrt(ss / ${f(K)} + ${f(g.norm.eps)});
  }
  workgroupBarrier();`
      : '';
  if (g.norm && !g.norm.pre && BB > 4) throw new Error('gemv: more than 4 rows per workgroup need norm.pre');

  const wgsl = `${sg ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : ''}${decl.join('\n')}
var<workgroup> res: array<f32, ${R * BB}>;
${two ? `var<workgroup> res2: array<f32, ${R * BB}>;` : ''}
var<workgroup> red: array<f32, ${redSize}>;
${g.norm ? `var<workgroup> inv: array<f32, ${BB}>;` : ''}
${g.norm && !g.norm.pre ? `var<workgroup> nred: array<f32, ${GEMV_THREADS * BB}>;` : ''}
${nf4 ? 'var<workgroup> qs: array<f32, 16>;' : ''}
@compute @workgroup_size(${GEMV_THREADS})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>${sg ? ', @builtin(subgroup_invocation_id) sgid: u32, @builtin(subgroup_size) sgs: u32' : ''}) {
  let wg = wid.x + wid.y * nwg.x;
  let bg = wid.z;
  let t = tid % ${T}u;
  let row = tid / ${T}u;
  // Rows past N read row N-1 (so every lane runs the same loop) and are not stored.
  let n = min(wg * ${R}u + row, ${N - 1}u);
  ${rep(BB, (b) => `let bi${b} = min(bg * ${BB}u + ${b}u, ${B - 1}u); let xb${b} = bi${b} * ${XS}u;`, '\n  ')}
  ${nf4 ? 'if (tid < 16u) { qs[tid] = qm[tid]; }' : ''}
  ${norm}
  ${nf4 && !g.norm ? 'workgroupBarrier();' : ''}
  var acc: array<f32, ${BB}>;
  ${two ? `var acc2: array<f32, ${BB}>;` : ''}
  ${loop}
  ${g.norm ? rep(BB, (b) => `acc[${b}] *= inv[${b}];${two ? ` acc2[${b}] *= inv[${b}];` : ''}`, ' ') : ''}
  ${lora}
  ${reduce('acc', 'res')}
  ${two ? reduce('acc2', 'res2') : ''}
  ${epilogue[mode]}
}`;
  return { wgsl, names, plan: p };
}
