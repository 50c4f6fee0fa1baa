/**
 * The one tiled GEMM source of @q: every matmul-shaped kernel (dense matmul with transposes and
 * batches, the fused NF4 linear forward and dX) is generated here from load hooks and a store
 * hook, in the way tfjs's packed matmul has mm_readA / mm_readB / mm_write:
 *
 * - a load hook ({@link TileLoad}) says how one load unit (1 or 4 values) of an operand tile is
 *   fetched from global memory into registers and how those registers become values: a dense f32
 *   or f16 read, or NF4 codes and absmax decoded into weights;
 * - the store hook writes one f32 result: a plain store, plus bias, residual, LoRA or a scale.
 *
 * Two variants share the hooks, the K loop and its staging: tiles pass through workgroup memory in
 * two stages (double buffering: the next step's global loads are in registers while this step
 * computes, and one barrier per step suffices), and every result accumulates in f32.
 * - CUDA-core ({@link CudaCoreTile}): 16x16 threads, each 4x4 or 8x8 outputs as vec4s 64
 *   rows/columns apart, K-major vec4 tiles padded by one vec4 per row. Portable (lavapipe).
 * - Tensor-core ({@link TensorCoreTile}): subgroup matrices ('chromium-experimental-subgroup-matrix')
 *   from f16 tiles in workgroup memory; each subgroup owns FM x FN result fragments (several
 *   accumulators), results leave through a per-subgroup f32 scratch so the store hook and bounds
 *   checks apply to them as to the CUDA-core variant.
 */
// Tile orientation: A tile element (k, i) = op(A)[m0 + i, k0 + k]; B tile element (k, j) = op(B)[k0 + k, n0 + j].
import type { BindingDecl, KernelDecl } from '../wgsl';

/** How an operand's tile is read: one load unit is `per` values consecutive in global memory. */
export interface TileLoad {
  per: 1 | 4;
  /** The tile axis the unit's values (and neighbouring threads) run along in global memory. */
  along: 'k' | 'mn';
  /** Per-thread register arrays for the prefetch: [name, WGSL element type]. */
  regs: [string, string][];
  /**
   * WGSL statements filling entry `l` of each register array. In scope: `gi` (global row of op(A)
   * or column of op(B)), `gk` (global k), `ok` (the whole unit is in range; when false the
   * registers must make `value` zero).
   */
  fetch(l: number): string;
  /** WGSL expression of the unit's value(s) from the registers: `S` (per 1) or `vec4<S>`. */
  value(l: number, S: string): string;
}

export interface CudaCoreTile {
  kind: 'cuda';
  BM: 64 | 128;
  BN: 64 | 128;
  BK: 16;
  /** f16 shared tiles only: multiply in f16 within a BK step, then add into the f32 accumulators. */
  f16Fma: boolean;
  /**
   * Workgroup-memory stages: 2 (default) double-buffers the tiles, 1 halves the memory (two
   * barriers a step) where two stages do not fit (f32 128x128 tiles on 32 KiB devices).
   */
  stages?: 1 | 2;
}

export interface TensorCoreTile {
  kind: 'tensor';
  /** One subgroup-matrix multiply: result TM x TN, inner TK (from the adapter's config). */
  TM: number;
  TN: number;
  TK: number;
  /** Subgroup size (the adapter's, when its min and max agree). */
  SG: number;
  /** Subgroups per workgroup along M and N. */
  SGM: number;
  SGN: number;
  /** Result fragments per subgroup along M and N (FM·FN accumulators). */
  FM: number;
  FN: number;
  BK: number;
}

export type GemmTile = CudaCoreTile | TensorCoreTile;

export interface GemmSpec {
  name: string;
  bindings: BindingDecl[];
  uniforms: [string, 'u32' | 'i32' | 'f32'][];
  /** WGSL expressions of the sizes (usually uniforms): op(A) is M x K, op(B) is K x N. */
  M: string;
  N: string;
  /** First and end k of this workgroup (split-K); default 0 and K. */
  kStart?: string;
  kEnd: string;
  a: TileLoad;
  b: TileLoad;
  /** Helper functions and workgroup arrays of the hooks. */
  header?: string;
  /** Statements at the start of main (offsets of a batch, say); a barrier follows them. */
  prologue?: string;
  /** WGSL statements storing `v` (f32) at output (`row`, `col`), both in range. */
  store(row: string, col: string, v: string): string;
  /** Element type of the workgroup tiles: f32, or f16 for f16 operands (always f16 on tensor cores). */
  shared: 'f32' | 'f16';
  tile: GemmTile;
}

const rep = (n: number, f: (i: number) => string, sep = '\n    ') => Array.from({ length: n }, (_, i) => f(i)).join(sep);

/** Tile edges of a variant: BM x BN outputs per workgroup, BK deep, with `threads` invocations. */
export function tileShape(t: GemmTile): { BM: number; BN: number; BK: number; threads: number } {
  if (t.kind === 'cuda') return { BM: t.BM, BN: t.BN, BK: t.BK, threads: 256 };
  return { BM: t.SGM * t.FM * t.TM, BN: t.SGN * t.FN * t.TN, BK: t.BK, threads: t.SGM * t.SGN * t.SG };
}

// Row padding of the tensor-core tiles, in f16 elements (16 bytes): spreads rows over banks and
// keeps every row 16-byte aligned for the subgroup-matrix loads.
const PAD16 = 8;

/**
 * f16 elements of one stage of a tensor-core operand tile. The tile is laid out so that a load
 * unit's values are contiguous: along k -> [BI][BK + pad] (k contiguous), along mn -> [BK][BI + pad];
 * the subgroup-matrix load reads either layout (row- or column-major). Without the operand, the
 * larger of the two.
 */
function tcTileElems(BI: number, BK: number, along?: 'k' | 'mn'): number {
  const byK = BI * (BK + PAD16);
  const byI = BK * (BI + PAD16);
  return along === 'k' ? byK : along === 'mn' ? byI : Math.max(byK, byI);
}

/** Workgroup memory a variant needs (two stages of both tiles, plus the tensor-core scratch). */
export function gemmSharedBytes(t: GemmTile, shared: 'f32' | 'f16'): number {
  if (t.kind === 'cuda') return (t.stages ?? 2) * t.BK * (t.BM + 4 + t.BN + 4) * (shared === 'f16' ? 2 : 4);
  const { BM, BN, BK } = tileShape(t);
  return 2 * (tcTileElems(BM, BK) + tcTileElems(BN, BK)) * 2 + t.SGM * t.SGN * t.TM * t.TN * 4;
}

/**
 * Per-unit index arithmetic of one operand tile: unit e of a BK x BI tile -> (kk, ii), the first
 * of its `per` values; consecutive units run along the operand's contiguous axis.
 */
function unitIndex(ld: TileLoad, BI: number, BK: number): string {
  return ld.along === 'k'
    ? `let ii = e / ${BK / ld.per}u; let kk = (e % ${BK / ld.per}u) * ${ld.per}u;`
    : `let kk = e / ${BI / ld.per}u; let ii = (e % ${BI / ld.per}u) * ${ld.per}u;`;
}

interface Operand {
  ld: TileLoad;
  BI: number;
  /** 'm0' or 'n0'. */
  origin: string;
  /** Size along i (M or N). */
  limit: string;
  /** Statements storing unit l's values (`v`) into stage `st` of the tile. */
  put(per: 1 | 4, along: 'k' | 'mn'): string;
}

function operandCode(op: Operand, BK: number, threads: number, kEnd: string, S: string) {
  const units = (op.BI * BK) / op.ld.per;
  if (units % threads !== 0) throw new Error(`gemm: a ${op.BI}x${BK} tile in units of ${op.ld.per} does not divide over ${threads} threads`);
  const L = units / threads;
  const idx = unitIndex(op.ld, op.BI, BK);
  // A unit is in range entirely or not at all: the caller makes K (along k) or the i extent
  // (along mn) a multiple of `per`.
  const decl = op.ld.regs.map(([n, t]) => `var ${n}: array<${t}, ${L}>;`).join('\n  ');
  const fetch = rep(L, (l) => `{ let e = lid.x + ${l * threads}u; ${idx} let gi = ${op.origin} + ii; let gk = k0 + kk; let ok = gi < ${op.limit} && gk < ${kEnd};
      ${op.ld.fetch(l)} }`);
  const store = rep(L, (l) => `{ let e = lid.x + ${l * threads}u; ${idx} let v = ${op.ld.value(l, S)};
      ${op.put(op.ld.per, op.ld.along)} }`);
  return { decl, fetch, store };
}

/** The kernel declaration (for `launch`) of a GEMM built from hooks. */
export function gemmKernel(spec: GemmSpec): KernelDecl {
  return spec.tile.kind === 'cuda' ? cudaCore(spec, spec.tile) : tensorCore(spec, spec.tile);
}

function loop(kStart: string, kEnd: string, a: ReturnType<typeof operandCode>, b: ReturnType<typeof operandCode>, BK: number, compute: string, stages: 1 | 2): string {
  // Stage st holds step t's tiles. Step t+1's global loads are issued before step t computes and
  // land in stage st ^ 1 after it: that stage was last read in step t - 1, which every thread
  // finished before the barrier ending step t - 1. So one barrier per step is enough. With one
  // stage, a second barrier keeps the stores from overwriting what others still read.
  return `
  var k0 = ${kStart};
  ${a.fetch}
  ${b.fetch}
  var st = 0u;
  ${a.store}
  ${b.store}
  workgroupBarrier();
  while (k0 < ${kEnd}) {
    k0 += ${BK}u;
    let more = k0 < ${kEnd};
    if (more) {
    ${a.fetch}
    ${b.fetch}
    }
    ${compute}
    ${stages === 2 ? 'st ^= 1u;' : 'workgroupBarrier();'}
    if (more) {
    ${a.store}
    ${b.store}
    }
    workgroupBarrier();
  }`;
}

function cudaCore(spec: GemmSpec, t: CudaCoreTile): KernelDecl {
  const { BM, BN, BK } = t;
  const S = spec.shared;
  const threads = 256;
  const stages = t.stages ?? 2;
  // K-major tiles as vec4s along i, one vec4 of padding per k row against bank conflicts.
  const PA = BM / 4 + 1;
  const PB = BN / 4 + 1;
  const put = (T: string, P: number) => (per: 1 | 4, along: 'k' | 'mn') => {
    const at = (dk: string) => `${T}[st * ${BK * P}u + (kk${dk}) * ${P}u + ii / 4u]`;
    if (per === 1) return `${at('')}[ii % 4u] = v;`;
    // 4 values along i are one vec4 of the tile (ii % 4 == 0); along k, one lane of 4 rows.
    if (along === 'mn') return `${at('')} = v;`;
    return rep(4, (j) => `${at(` + ${j}u`)}[ii % 4u] = v[${j}];`, ' ');
  };
  const a = operandCode({ ld: spec.a, BI: BM, origin: 'm0', limit: spec.M, put: put('As', PA) }, BK, threads, spec.kEnd, S);
  const b = operandCode({ ld: spec.b, BI: BN, origin: 'n0', limit: spec.N, put: put('Bs', PB) }, BK, threads, spec.kEnd, S);
  const RM = BM / 64;
  const RN = BN / 64;
  const TMr = RM * 4;
  const f16Fma = t.f16Fma && S === 'f16';
  const ACC = f16Fma ? 'part' : 'acc';
  const cast = f16Fma ? '' : 'vec4<f32>';
  // Everything indexing the per-thread arrays is unrolled, so they stay in registers.
  const fma: string[] = [];
  for (let c = 0; c < RM; c++) fma.push(`let a${c} = ${cast}(As[st * ${BK * PA}u + k * ${PA}u + ${c * 16}u + ty]);`);
  for (let c = 0; c < RN; c++) fma.push(`let b${c} = ${cast}(Bs[st * ${BK * PB}u + k * ${PB}u + ${c * 16}u + tx]);`);
  for (let i = 0; i < TMr; i++) for (let j = 0; j < RN; j++) fma.push(`${ACC}[${i * RN + j}] = fma(vec4(a${i >> 2}[${i & 3}]), b${j}, ${ACC}[${i * RN + j}]);`);
  const flush = f16Fma ? rep(TMr * RN, (r) => `acc[${r}] += vec4<f32>(part[${r}]); part[${r}] = vec4<f16>(0.0h);`) : '';
  const compute = `for (var k = 0u; k < ${BK}u; k++) {
      ${fma.join('\n      ')}
    }
    ${flush}`;
  const rowOf = (i: number) => `m0 + ${(i >> 2) * 64 + (i & 3)}u + ty * 4u`;
  const colOf = (q: number) => `n0 + ${(q >> 2) * 64 + (q & 3)}u + tx * 4u`;
  const epilogue = rep(TMr, (i) => `if (${rowOf(i)} < ${spec.M}) {
    let row = ${rowOf(i)};
    ${rep(RN * 4, (q) => `if (${colOf(q)} < ${spec.N}) { let col = ${colOf(q)}; ${spec.store('row', 'col', `acc[${i * RN + (q >> 2)}][${q & 3}]`)} }`)}
  }`);
  return {
    name: spec.name,
    bindings: spec.bindings,
    uniforms: spec.uniforms,
    wg: threads,
    header: `${spec.header ?? ''}
var<workgroup> As: array<vec4<${S}>, ${stages * BK * PA}>;
var<workgroup> Bs: array<vec4<${S}>, ${stages * BK * PB}>;`,
    body: `
  let tx = lid.x % 16u; let ty = lid.x / 16u;
  let m0 = wid.y * ${BM}u; let n0 = wid.x * ${BN}u;
  ${spec.prologue ?? ''}
  workgroupBarrier();
  var acc: array<vec4<f32>, ${TMr * RN}>;
  ${f16Fma ? `var part: array<vec4<f16>, ${TMr * RN}>;` : ''}
  ${a.decl}
  ${b.decl}
  ${loop(spec.kStart ?? '0u', spec.kEnd, a, b, BK, compute, stages)}
  ${epilogue}`,
  };
}

function tensorCore(spec: GemmSpec, t: TensorCoreTile): KernelDecl {
  const { BM, BN, BK, threads } = tileShape(t);
  const { TM, TN, TK, SG, FM, FN } = t;
  if (BK % TK !== 0) throw new Error(`gemm: BK ${BK} is not a multiple of the matrix K ${TK}`);
  // Each operand tile is laid out so that its load units land contiguously (see tcTileElems):
  // byK = [BI][BK + pad], else [BK][BI + pad]. Subgroup-matrix loads read the first as row-major
  // A / column-major B, the second as column-major A / row-major B.
  const aByK = spec.a.along === 'k';
  const bByK = spec.b.along === 'k';
  const PA = aByK ? BK + PAD16 : BM + PAD16;
  const PB = bByK ? BK + PAD16 : BN + PAD16;
  const SA = tcTileElems(BM, BK, spec.a.along);
  const SB = tcTileElems(BN, BK, spec.b.along);
  const put = (T: string, byK: boolean, stage: number, P: number) => (per: 1 | 4, along: 'k' | 'mn') => {
    const at = (di: number, dk: number) => {
      const i = di ? `ii + ${di}u` : 'ii';
      const k = dk ? `kk + ${dk}u` : 'kk';
      return byK ? `${T}[st * ${stage}u + (${i}) * ${P}u + ${k}]` : `${T}[st * ${stage}u + (${k}) * ${P}u + ${i}]`;
    };
    if (per === 1) return `${at(0, 0)} = f16(v);`;
    return rep(4, (j) => `${at(along === 'mn' ? j : 0, along === 'k' ? j : 0)} = f16(v[${j}]);`, ' ');
  };
  const a = operandCode({ ld: spec.a, BI: BM, origin: 'm0', limit: spec.M, put: put('As', aByK, SA, PA) }, BK, threads, spec.kEnd, 'f16');
  const b = operandCode({ ld: spec.b, BI: BN, origin: 'n0', limit: spec.N, put: put('Bs', bByK, SB, PB) }, BK, threads, spec.kEnd, 'f16');
  // subgroup_matrix_left<T, K, M> is M rows x K columns; right<T, N, K> K x N; result<T, N, M> M x N.
  const L = `subgroup_matrix_left<f16, ${TK}, ${TM}>`;
  const R = `subgroup_matrix_right<f16, ${TN}, ${TK}>`;
  const C = `subgroup_matrix_result<f32, ${TN}, ${TM}>`;
  // NOTE: Dawn in webgpu 0.6.2 warns that the trailing majorness bool of subgroupMatrixLoad/Store
  // is deprecated (its replacement is a template argument: subgroupMatrixLoad<T, col_major>). The
  // bool form is the one checked on an H200; the template form is untested there so far.
  const aAt = (i: number) => (aByK ? `(sm + ${i * TM}u) * ${PA}u + kk, false` : `kk * ${PA}u + sm + ${i * TM}u, true`);
  const bAt = (j: number) => (bByK ? `(sn + ${j * TN}u) * ${PB}u + kk, true` : `kk * ${PB}u + sn + ${j * TN}u, false`);
  const compute = `for (var kk = 0u; kk < ${BK}u; kk += ${TK}u) {
      ${rep(FM, (i) => `let fa${i} = subgroupMatrixLoad<${L}>(&As, st * ${SA}u + ${aAt(i)}, ${PA}u);`, '\n      ')}
      ${rep(FN, (j) => `let fb${j} = subgroupMatrixLoad<${R}>(&Bs, st * ${SB}u + ${bAt(j)}, ${PB}u);`, '\n      ')}
      ${rep(FM * FN, (f) => `c${f} = subgroupMatrixMultiplyAccumulate(fa${Math.floor(f / FN)}, fb${f % FN}, c${f});`, '\n      ')}
    }`;
  // Each fragment goes through this subgroup's scratch, then its lanes apply the store hook.
  const frag = TM * TN;
  // Subgroup-matrix builtins want subgroup-uniform arguments. With one subgroup per workgroup
  // every offset is uniform by construction (sg = 0). With several, the subgroup comes from the
  // subgroup_id builtin (needs the 'subgroups' feature), which the uniformity analysis treats as
  // subgroup-uniform under diagnostic(off, subgroup_uniformity).
  const one = t.SGM * t.SGN === 1;
  const ids = one
    ? 'const sg = 0u; const sm = 0u; const sn = 0u; let lane = lid.x;'
    : `let sg = sg_id; let lane = sg_lane;
  // This subgroup's block of the tile: rows sm.., columns sn..
  let sm = (sg / ${t.SGN}u) * ${FM * TM}u; let sn = (sg % ${t.SGN}u) * ${FN * TN}u;`;
  const epilogue = rep(FM * FN, (f) => {
    const fi = Math.floor(f / FN);
    const fj = f % FN;
    return `subgroupMatrixStore(&Cs, sg * ${frag}u, c${f}, false, ${TN}u);
  workgroupBarrier();
  for (var e = lane; e < ${frag}u; e += ${SG}u) {
    let row = m0 + sm + ${fi * TM}u + e / ${TN}u; let col = n0 + sn + ${fj * TN}u + e % ${TN}u;
    if (row < ${spec.M} && col < ${spec.N}) { let v = Cs[sg * ${frag}u + e]; ${spec.store('row', 'col', 'v')} }
  }
  workgroupBarrier();`;
  }, '\n  ');
  return {
    name: spec.name,
    bindings: spec.bindings,
    uniforms: spec.uniforms,
    wg: threads,
    directives: 'enable chromium_experimental_subgroup_matrix;' + (one ? '' : '\nenable subgroups;\ndiagnostic(off, subgroup_uniformity);'),
    builtins: one ? undefined : ['@builtin(subgroup_id) sg_id: u32', '@builtin(subgroup_invocation_id) sg_lane: u32'],
    header: `${spec.header ?? ''}
var<workgroup> As: array<f16, ${2 * SA}>;
var<workgroup> Bs: array<f16, ${2 * SB}>;
var<workgroup> Cs: array<f32, ${t.SGM * t.SGN * frag}>;`,
    body: `
  let m0 = wid.y * ${BM}u; let n0 = wid.x * ${BN}u;
  ${ids}
  ${spec.prologue ?? ''}
  workgroupBarrier();
  ${rep(FM * FN, (f) => `var c${f} = ${C}();`, '\n  ')}
  ${a.decl}
  ${b.decl}
  ${loop(spec.kStart ?? '0u', spec.kEnd, a, b, BK, compute, 2)}
  ${epilogue}`,
  };
}

/** A dense operand read from a binding of f32 or f16 values (vec4-typed when `per` is 4). */
export function denseLoad(o: {
  binding: string;
  dtype: 'f32' | 'f16';
  per: 1 | 4;
  along: 'k' | 'mn';
  /** WGSL index of element (gi, gk) of the operand, in elements. */
  index: string;
}): TileLoad {
  const reg = `r_${o.binding}`;
  const T = o.dtype;
  const elem = o.per === 4 ? `vec4<${T}>` : T;
  return {
    per: o.per,
    along: o.along,
    regs: [[reg, elem]],
    fetch: (l) => `${reg}[${l}] = ${elem}(0); if (ok) { ${reg}[${l}] = ${o.binding}[${o.per === 4 ? `(${o.index}) / 4u` : o.index}]; }`,
    value: (l, S) => (o.per === 4 ? `vec4<${S}>(${reg}[${l}])` : `${S}(${reg}[${l}])`),
  };
}
