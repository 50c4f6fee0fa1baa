/**
 * Batched matrix product with optionally transposed operands: C = op(A)·op(B).
 * A workgroup of 256 threads computes a 64x64 (4x4 per thread) or, for large problems, a 128x128
 * (8x8 per thread) tile of C, K in steps of 16 through vec4 shared memory, with the next step's
 * global loads in flight during the current step. Values accumulate in f32; f16 operands stay f16
 * in shared memory and, by default, multiply in f16 within a K step (see {@link matmulSettings}).
 */
// a: [...batch, M, K] (or [..., K, M] with transA), b: [...batch, K, N] (or [..., N, K] with transB)
// out: [...batch, M, N]; batch dims equal, or one side without batch (shared operand).
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch } from '../wgsl';
import { numel, WGSL_TYPE, type DType } from '../dtype';
import { ShapeError } from '../errors';
import { sameShape } from '../shape';
import { sum, sumTo } from './reduce';
import { gemvTransB, GEMV_MAX_ROWS } from './gemv';

export interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

interface Dims {
  M: number;
  N: number;
  K: number;
  batch: number[];
  batchA: number;
  batchB: number;
}

function dims(sa: readonly number[], sb: readonly number[], { transA, transB }: MatmulAttrs): Dims {
  if (sa.length < 2 || sb.length < 2) throw new ShapeError(`matmul: operands need rank >= 2, got [${sa}] and [${sb}]`);
  const [a0, a1] = sa.slice(-2) as [number, number];
  const [b0, b1] = sb.slice(-2) as [number, number];
  const [M, K] = transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = transB ? [b1, b0] : [b0, b1];
  if (K !== Kb) throw new ShapeError(`matmul: inner dimensions differ: [${sa}]${transA ? 'ᵀ' : ''} x [${sb}]${transB ? 'ᵀ' : ''}`);
  const ba = sa.slice(0, -2);
  const bb = sb.slice(0, -2);
  const na = numel(ba);
  const nb = numel(bb);
  let batch: number[];
  if (sameShape(ba, bb)) batch = ba;
  else if (nb === 1) batch = ba;
  else if (na === 1) batch = bb;
  else throw new ShapeError(`matmul: batch dimensions [${ba}] and [${bb}] differ`);
  return { M, N, K, batch, batchA: na, batchB: nb };
}

/**
 * A tile configuration: each workgroup of 16x16 threads computes a BM x BN block of C, each thread
 * (BM/16) x (BN/16) outputs as vec4 chunks 64 rows / columns apart (so 16 neighbouring threads read
 * 16 neighbouring vec4s of shared memory), stepping K by BK through shared memory.
 */
export interface MatmulTile {
  BM: 64 | 128;
  BN: 64 | 128;
  BK: number;
  /** f16 only: multiply in f16 within a BK step (packed half FMA), then add into f32 accumulators. */
  f16Fma: boolean;
}

/** Small problems and CPU adapters: 64x64 tiles, 4x4 per thread. */
export const TILE_64: MatmulTile = { BM: 64, BN: 64, BK: 16, f16Fma: false };
/** Large problems on GPUs: 128x128 tiles, 8x8 per thread (4x the FMAs per shared-memory read). */
export const TILE_128: MatmulTile = { BM: 128, BN: 128, BK: 16, f16Fma: false };

/**
 * Which kernel matmul uses. `tile`: 'auto' picks by problem size, adapter and limits; a tile forces
 * one (tests and benchmarks compare them this way). `f16Fma` (f16 operands only, default true on
 * GPUs): products are summed in f16 over each K step of 16 and then added into f32 accumulators.
 * It uses the GPU's packed half FMA; the price is about 3x the error of rounding the f16 output
 * (sampled: 2e-3 vs 6e-4 of rms at K=256), and products beyond ±65504 overflow. Set false for
 * f32 multiplication of f16 operands.
 */
export const matmulSettings: { tile: 'auto' | MatmulTile; f16Fma: boolean } = { tile: 'auto', f16Fma: true };

const WG = 256; // 16 x 16 threads

function sharedBytes(t: MatmulTile, dtype: DType): number {
  const el = dtype === 'f16' ? 2 : 4;
  return t.BK * (t.BM + 4 + t.BN + 4) * el;
}

function pickTile(d: Dims, nb: number, dtype: DType, dev: Tensor['dev']): MatmulTile {
  const forced = matmulSettings.tile;
  const { vendor, architecture, description } = dev.info;
  const cpu = /llvmpipe|lavapipe|swiftshader/i.test(`${vendor} ${architecture} ${description}`);
  let t: MatmulTile;
  if (forced !== 'auto') t = forced;
  else if (cpu) {
    // On CPU adapters (lavapipe, SwiftShader) a few cores share all workgroups, so bigger tiles
    // only add reuse: 128x128 ran 2-3x faster than 64x64 at 256³ on lavapipe.
    // From 64 up, so the shared op tests run both variants here.
    t = Math.min(d.M, d.N) >= 64 ? TILE_128 : TILE_64;
  } else {
    // 128x128 tiles do 4x the work per workgroup: worth it once there are enough of them to fill
    // a large GPU (~130 SMs), and their larger shared tiles must fit the device.
    const tiles128 = Math.ceil(d.M / 128) * Math.ceil(d.N / 128) * nb;
    t = tiles128 >= 192 ? TILE_128 : TILE_64;
  }
  if (sharedBytes(t, dtype) > dev.info.limits.maxComputeWorkgroupStorageSize) t = TILE_64;
  // f16 arithmetic is emulated through f32 on CPU adapters (slower there), native on GPUs.
  return { ...t, f16Fma: dtype === 'f16' && matmulSettings.f16Fma && (forced !== 'auto' || !cpu) };
}

function tileSource(dtype: DType, transA: boolean, transB: boolean, t: MatmulTile): Parameters<typeof launch>[0] {
  const T = WGSL_TYPE[dtype];
  const { BM, BN, BK } = t;
  // Shared tiles are K-major ([BK][BM] and [BK][BN]) as vec4s, one vec4 of padding per k row so
  // the transposing stores of row-major operands spread over banks.
  const S = dtype === 'f16' ? 'f16' : 'f32';
  const PA = BM / 4 + 1;
  const PB = BN / 4 + 1;
  const LA = (BM * BK) / WG;
  const LB = (BN * BK) / WG;
  const RM = BM / 64; // vec4 row chunks per thread
  const RN = BN / 64; // vec4 column chunks per thread
  const TMr = RM * 4; // rows per thread
  const zero = `${S}(0)`;
  // Loads are arranged so neighbouring threads read neighbouring addresses for either layout.
  const idxA = transA ? `let kk = e / ${BM}u; let mm = e % ${BM}u;` : `let mm = e / ${BK}u; let kk = e % ${BK}u;`;
  const readA = transA ? `a[offA + gk * u.M + gm]` : `a[offA + gm * u.K + gk]`;
  const idxB = transB ? `let nn = e / ${BK}u; let kk = e % ${BK}u;` : `let kk = e / ${BN}u; let nn = e % ${BN}u;`;
  const readB = transB ? `b[offB + gn * u.K + gk]` : `b[offB + gk * u.N + gn]`;
  // Everything that indexes the per-thread arrays (ra, rb, acc, part) is unrolled here, so they
  // stay in registers: a loop index would push them to local memory on most GPUs.
  const rep = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n    ');
  const fetch = [
    rep(LA, (l) => `{ let e = lid.x + ${l * WG}u; ${idxA} let gm = m0 + mm; let gk = k0 + kk;
      ra[${l}] = ${zero}; if (gm < u.M && gk < kEnd) { ra[${l}] = ${S}(${readA}); } }`),
    rep(LB, (l) => `{ let e = lid.x + ${l * WG}u; ${idxB} let gn = n0 + nn; let gk = k0 + kk;
      rb[${l}] = ${zero}; if (gn < u.N && gk < kEnd) { rb[${l}] = ${S}(${readB}); } }`),
  ].join('\n    ');
  const store = [
    rep(LA, (l) => `{ let e = lid.x + ${l * WG}u; ${idxA} As[kk * ${PA}u + mm / 4u][mm % 4u] = ra[${l}]; }`),
    rep(LB, (l) => `{ let e = lid.x + ${l * WG}u; ${idxB} Bs[kk * ${PB}u + nn / 4u][nn % 4u] = rb[${l}]; }`),
  ].join('\n    ');
  // Unrolled outer product of this thread's rows and columns at one k.
  const ACC = t.f16Fma ? 'part' : 'acc';
  const cast = t.f16Fma ? '' : 'vec4<f32>';
  const fma: string[] = [];
  for (let c = 0; c < RM; c++) fma.push(`let a${c} = ${cast}(As[k * ${PA}u + ${c * 16}u + ty]);`);
  for (let c = 0; c < RN; c++) fma.push(`let b${c} = ${cast}(Bs[k * ${PB}u + ${c * 16}u + tx]);`);
  for (let i = 0; i < TMr; i++)
    for (let j = 0; j < RN; j++) fma.push(`${ACC}[${i * RN + j}] = fma(vec4(a${i >> 2}[${i & 3}]), b${j}, ${ACC}[${i * RN + j}]);`);
  const accDecl = `var acc: array<vec4<f32>, ${TMr * RN}>;` + (t.f16Fma ? `\n  var part: array<vec4<f16>, ${TMr * RN}>;` : '');
  const flush = t.f16Fma
    ? rep(TMr * RN, (r) => `acc[${r}] += vec4<f32>(part[${r}]); part[${r}] = vec4<f16>(0.0h);`)
    : '';
  return {
    name: `matmul${BM}${transA ? '_tA' : ''}${transB ? '_tB' : ''}_${dtype}${t.f16Fma ? '_fma16' : ''}`,
    bindings: [
      { name: 'a', dtype },
      { name: 'b', dtype },
      { name: 'c', dtype, access: 'read_write' },
    ],
    uniforms: [
      ['M', 'u32'],
      ['N', 'u32'],
      ['K', 'u32'],
      ['strideA', 'u32'],
      ['strideB', 'u32'],
      ['split', 'u32'],
      ['kPer', 'u32'],
    ],
    header: `var<workgroup> As: array<vec4<${S}>, ${BK * PA}>;\nvar<workgroup> Bs: array<vec4<${S}>, ${BK * PB}>;`,
    // Global loads of the next K step go to registers (ra, rb) while this step computes from shared memory.
    body: `
  let tx = lid.x % 16u; let ty = lid.x / 16u;
  let m0 = wid.y * ${BM}u; let n0 = wid.x * ${BN}u;
  let offA = wid.z * u.strideA; let offB = wid.z * u.strideB;
  // Split-K: workgroup layer z sums k in [z·kPer, (z+1)·kPer) into its own output slice.
  let kStart = u.split * wid.z * u.kPer;
  let kEnd = select(u.K, min(u.K, kStart + u.kPer), u.split == 1u);
  ${accDecl}
  var ra: array<${S}, ${LA}>;
  var rb: array<${S}, ${LB}>;
  var k0 = kStart;
  ${fetch}
  while (k0 < kEnd) {
    ${store}
    workgroupBarrier();
    k0 += ${BK}u;
    if (k0 < kEnd) { ${fetch} }
    for (var k = 0u; k < ${BK}u; k++) {
      ${fma.join('\n      ')}
    }
    ${flush}
    workgroupBarrier();
  }
  let offC = wid.z * u.M * u.N;
  ${rep(TMr, (i) => `if (m0 + ${(i >> 2) * 64 + (i & 3)}u + ty * 4u < u.M) {
    let row = offC + (m0 + ${(i >> 2) * 64 + (i & 3)}u + ty * 4u) * u.N;
    ${rep(RN * 4, (q) => `if (n0 + ${(q >> 2) * 64 + (q & 3)}u + tx * 4u < u.N) { c[row + n0 + ${(q >> 2) * 64 + (q & 3)}u + tx * 4u] = ${T}(acc[${i * RN + (q >> 2)}][${q & 3}]); }`)}
  }`)}`,
  };
}

const kernels = new Map<string, Parameters<typeof launch>[0]>();

function matmulGpu(a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  if (a.dtype !== b.dtype) throw new ShapeError(`matmul: dtypes differ (${a.dtype}, ${b.dtype})`);
  const d = dims(a.shape, b.shape, attrs);
  const c = empty([...d.batch, d.M, d.N], a.dtype, a.dev);
  const nb = numel(d.batch);
  const t = pickTile(d, nb, a.dtype, a.dev);
  const key = `${a.dtype}${attrs.transA}${attrs.transB}${t.BM}x${t.BN}x${t.BK}${t.f16Fma}`;
  let k = kernels.get(key);
  if (!k) kernels.set(key, (k = tileSource(a.dtype, attrs.transA, attrs.transB, t)));
  if (nb === 1 && !attrs.transA && attrs.transB && d.M <= GEMV_MAX_ROWS && d.K >= 64) {
    c.release();
    return gemvTransB(a, b, d.M, d.N, d.K).reshape([...d.batch, d.M, d.N]);
  }
  const tiles = Math.ceil(d.N / t.BN) * Math.ceil(d.M / t.BM);
  // A long K over few output tiles (an lm_head's input gradient: K = vocabulary) would leave most
  // of the GPU idle: split K over workgroup layers and sum the partial products.
  const splits = nb === 1 && d.K >= 8192 && tiles < 128 ? Math.min(64, Math.ceil(256 / tiles), Math.ceil(d.K / 1024)) : 1;
  if (splits > 1) {
    const kPer = Math.ceil(d.K / splits / t.BK) * t.BK;
    const parts = empty([splits, d.M, d.N], a.dtype, a.dev);
    launch(k, [a, b, parts], [Math.ceil(d.N / t.BN), Math.ceil(d.M / t.BM), Math.ceil(d.K / kPer)], [d.M, d.N, d.K, 0, 0, 1, kPer]);
    c.release();
    const out = sum(parts, [0]).reshape([...d.batch, d.M, d.N]);
    parts.release();
    return out;
  }
  launch(k, [a, b, c], [Math.ceil(d.N / t.BN), Math.ceil(d.M / t.BM), nb], [
    d.M,
    d.N,
    d.K,
    d.batchA === 1 ? 0 : d.M * d.K,
    d.batchB === 1 ? 0 : d.K * d.N,
    0,
    0,
  ]);
  return c;
}

function matmulCpu([a, b]: CpuTensor[], attrs: MatmulAttrs): CpuTensor {
  const d = dims(a!.shape, b!.shape, attrs);
  const nb = numel(d.batch);
  const out = new Float64Array(nb * d.M * d.N);
  for (let z = 0; z < nb; z++) {
    const oa = d.batchA === 1 ? 0 : z * d.M * d.K;
    const ob = d.batchB === 1 ? 0 : z * d.K * d.N;
    for (let m = 0; m < d.M; m++)
      for (let n = 0; n < d.N; n++) {
        let s = 0;
        for (let k = 0; k < d.K; k++) {
          const av = attrs.transA ? a!.data[oa + k * d.M + m]! : a!.data[oa + m * d.K + k]!;
          const bv = attrs.transB ? b!.data[ob + n * d.K + k]! : b!.data[ob + k * d.N + n]!;
          s += av * bv;
        }
        out[z * d.M * d.N + m * d.N + n] = s;
      }
  }
  return { shape: [...d.batch, d.M, d.N], data: out };
}

export const matmulOp = /* @__PURE__ */ defineOp<MatmulAttrs>({
  name: 'matmul',
  cpu: matmulCpu,
  gpu: ([a, b], attrs) => matmulGpu(a!, b!, attrs),
  // C = A'·B' with A' = op(A), B' = op(B): dA' = dC·B'ᵀ, dB' = A'ᵀ·dC, transposed back when the
  // operand was stored transposed; a shared (batchless) operand sums its gradient over the batch.
  // A frozen operand (a base weight under LoRA, a tied lm_head) gets no gradient: skipping it
  // saves a product as large as the forward.
  backward: (gc, { saved: [a, b], attrs: { transA, transB }, inputShapes: [sa, sb], needs: [na, nb] }) => {
    const da = !na ? null : transA ? matmul(b!, gc, { transA: transB, transB: true }) : matmul(gc, b!, { transB: !transB });
    const db = !nb ? null : transB ? matmul(gc, a!, { transA: true, transB: transA }) : matmul(a!, gc, { transA: !transA });
    return [da && reduceBatch(da, sa!), db && reduceBatch(db, sb!)];
  },
});

function reduceBatch(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.slice(0, -2);
  const flat = g.reshape([numel(lead), ...g.shape.slice(-2)]);
  return sumTo(flat, [1, ...shape.slice(-2)]).reshape([...shape]);
}

/**
 * C = op(A)·op(B), batched.
 *
 * @example
 * ```ts
 * const y = matmul(x, w, { transB: true }); // x: [T, in], w: [out, in] (nn.Linear) -> [T, out]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, o: Partial<MatmulAttrs> = {}): Tensor {
  const attrs = { transA: o.transA ?? false, transB: o.transB ?? false };
  // A batched activation against a shared weight is one big 2-D product: fold the batch into M.
  if (b.rank === 2 && a.rank > 2 && !attrs.transA) {
    const K = a.shape[a.rank - 1]!;
    const y = matmulOp([a.reshape([-1, K]), b], attrs);
    return y.reshape([...a.shape.slice(0, -1), y.shape[1]!]);
  }
  return matmulOp([a, b], attrs);
}
