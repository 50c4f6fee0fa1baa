/**
 * Batched matrix product with optionally transposed operands: C = op(A)·op(B).
 * One 64x64 output tile per workgroup of 256 threads, 4x4 outputs per thread, K in steps of 16
 * through shared memory; values accumulate in f32 for f16 storage too.
 */
// a: [...batch, M, K] (or [..., K, M] with transA), b: [...batch, K, N] (or [..., N, K] with transB)
// out: [...batch, M, N]; batch dims equal, or one side without batch (shared operand).
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch } from '../wgsl';
import { numel, WGSL_TYPE, type DType } from '../dtype';
import { ShapeError } from '../errors';
import { sameShape } from '../shape';
import { sumTo } from './reduce';

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

const TILE = 64;
const TK = 16;

function tileSource(dtype: DType, transA: boolean, transB: boolean): Parameters<typeof launch>[0] {
  const T = WGSL_TYPE[dtype];
  // Loads are arranged so neighbouring threads read neighbouring addresses for either layout.
  const loadA = transA
    ? `let kk = e / ${TILE}u; let mm = e % ${TILE}u; let gm = m0 + mm; let gk = k0 + kk;
       var v = 0.0; if (gm < u.M && gk < u.K) { v = f32(a[offA + gk * u.M + gm]); }`
    : `let mm = e / ${TK}u; let kk = e % ${TK}u; let gm = m0 + mm; let gk = k0 + kk;
       var v = 0.0; if (gm < u.M && gk < u.K) { v = f32(a[offA + gm * u.K + gk]); }`;
  const loadB = transB
    ? `let nn = e / ${TK}u; let kk = e % ${TK}u; let gn = n0 + nn; let gk = k0 + kk;
       var v = 0.0; if (gn < u.N && gk < u.K) { v = f32(b[offB + gn * u.K + gk]); }`
    : `let kk = e / ${TILE}u; let nn = e % ${TILE}u; let gn = n0 + nn; let gk = k0 + kk;
       var v = 0.0; if (gn < u.N && gk < u.K) { v = f32(b[offB + gk * u.N + gn]); }`;
  return {
    name: `matmul${transA ? '_tA' : ''}${transB ? '_tB' : ''}_${dtype}`,
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
    ],
    header: `var<workgroup> As: array<f32, ${TILE * TK}>;\nvar<workgroup> Bs: array<f32, ${TILE * TK}>;`,
    body: `
  let tx = lid.x % 16u; let ty = lid.x / 16u;
  let m0 = wid.y * ${TILE}u; let n0 = wid.x * ${TILE}u;
  let offA = wid.z * u.strideA; let offB = wid.z * u.strideB;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < u.K; k0 += ${TK}u) {
    for (var l = 0u; l < 4u; l++) {
      let e = lid.x + l * 256u;
      { ${loadA} As[kk * ${TILE}u + mm] = v; }
      { ${loadB} Bs[kk * ${TILE}u + nn] = v; }
    }
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      let av = vec4<f32>(As[k * ${TILE}u + ty * 4u], As[k * ${TILE}u + ty * 4u + 1u], As[k * ${TILE}u + ty * 4u + 2u], As[k * ${TILE}u + ty * 4u + 3u]);
      let bv = vec4<f32>(Bs[k * ${TILE}u + tx * 4u], Bs[k * ${TILE}u + tx * 4u + 1u], Bs[k * ${TILE}u + tx * 4u + 2u], Bs[k * ${TILE}u + tx * 4u + 3u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i * 4u] += av[i] * bv.x; acc[i * 4u + 1u] += av[i] * bv.y;
        acc[i * 4u + 2u] += av[i] * bv.z; acc[i * 4u + 3u] += av[i] * bv.w;
      }
    }
    workgroupBarrier();
  }
  let offC = wid.z * u.M * u.N;
  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + ty * 4u + i;
    if (gm >= u.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + tx * 4u + j;
      if (gn < u.N) { c[offC + gm * u.N + gn] = ${T}(acc[i * 4u + j]); }
    }
  }`,
  };
}

const kernels = new Map<string, Parameters<typeof launch>[0]>();

function matmulGpu(a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  if (a.dtype !== b.dtype) throw new ShapeError(`matmul: dtypes differ (${a.dtype}, ${b.dtype})`);
  const d = dims(a.shape, b.shape, attrs);
  const c = empty([...d.batch, d.M, d.N], a.dtype, a.dev);
  const key = `${a.dtype}${attrs.transA}${attrs.transB}`;
  let k = kernels.get(key);
  if (!k) kernels.set(key, (k = tileSource(a.dtype, attrs.transA, attrs.transB)));
  const nb = numel(d.batch);
  launch(k, [a, b, c], [Math.ceil(d.N / TILE), Math.ceil(d.M / TILE), nb], [
    d.M,
    d.N,
    d.K,
    d.batchA === 1 ? 0 : d.M * d.K,
    d.batchB === 1 ? 0 : d.K * d.N,
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

const matmulOp = defineOp<MatmulAttrs>({
  name: 'matmul',
  cpu: matmulCpu,
  gpu: ([a, b], attrs) => matmulGpu(a!, b!, attrs),
  // C = A'·B' with A' = op(A), B' = op(B): dA' = dC·B'ᵀ, dB' = A'ᵀ·dC, transposed back when the
  // operand was stored transposed; a shared (batchless) operand sums its gradient over the batch.
  backward: (gc, { saved: [a, b], attrs: { transA, transB }, inputShapes: [sa, sb] }) => {
    const da = transA ? matmul(b!, gc, { transA: transB, transB: true }) : matmul(gc, b!, { transB: !transB });
    const db = transB ? matmul(gc, a!, { transA: true, transB: transA }) : matmul(a!, gc, { transA: !transA });
    return [reduceBatch(da, sa!), reduceBatch(db, sb!)];
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
