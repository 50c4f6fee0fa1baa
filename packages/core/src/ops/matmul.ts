/**
 * Batched matrix product with optionally transposed operands: C = op(A)·op(B), on the GEMM
 * template (./matmul-template). CUDA-core tiles: 256 threads compute a 64x64 (4x4 per thread) or,
 * for large problems, a 128x128 (8x8 per thread) tile of C, K in steps of 16 through vec4 shared
 * memory in two stages, the next step's global loads in flight during the current step. f16
 * operands on a device with subgroup matrices run on tensor cores. Values accumulate in f32; f16
 * operands stay f16 in shared memory and, on CUDA cores, multiply in f16 within a K step by
 * default (see {@link matmulSettings}).
 */
// a: [...batch, M, K] (or [..., K, M] with transA), b: [...batch, K, N] (or [..., N, K] with transB)
// out: [...batch, M, N]; batch dims equal, or one side without batch (shared operand).
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, type KernelDecl } from '../wgsl';
import { numel, WGSL_TYPE, type DType } from '../dtype';
import { DeviceError, ShapeError } from '../errors';
import type { DeviceInfo } from '../device';
import { denseLoad, gemmKernel, gemmSharedBytes, tileShape, type CudaCoreTile, type GemmTile, type TensorCoreTile } from './matmul-template';
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
 * A kernel variant of the GEMM template (./matmul-template): a CUDA-core tile (16x16 threads,
 * BM x BN outputs, K in steps of 16) or a tensor-core tile (subgroup matrices, f16 operands).
 */
export type MatmulTile = GemmTile;

/** Small problems and CPU adapters: 64x64 tiles, 4x4 per thread. */
export const TILE_64: CudaCoreTile = { kind: 'cuda', BM: 64, BN: 64, BK: 16, f16Fma: false };
/**
 * Large problems on GPUs: 128x128 tiles, 8x8 per thread (4x the FMAs per shared-memory read).
 * One stage: on an H200 (f32, 4096³) it ran at 30.9 TFLOP/s against 21.9 double-buffered (the
 * second stage costs occupancy at this tile's register and memory use).
 */
export const TILE_128: CudaCoreTile = { kind: 'cuda', BM: 128, BN: 128, BK: 16, f16Fma: false, stages: 1 };

/**
 * Which kernel matmul uses.
 * - `tile`: 'auto' picks by problem size, adapter and limits; a tile forces one (tests and
 *   benchmarks compare them this way).
 * - `f16Fma` (CUDA-core tiles, f16 operands only, default true on GPUs): products are summed in
 *   f16 over each K step of 16 and then added into f32 accumulators. It uses the GPU's packed half
 *   FMA; the price is about 3x the error of rounding the f16 output (sampled: 2e-3 vs 6e-4 of rms
 *   at K=256), and products beyond ±65504 overflow. Set false for f32 multiplication of f16 operands.
 * - `tensorCores` (f16 operands): 'auto' uses subgroup matrices where the device has the feature
 *   and an f16 x f16 -> f32 shape ({@link tensorCoreTile}); 'off' never; 'on' insists (an error
 *   where the device has none). Default 'off', or the env variable Q_TENSOR_CORES=on|off|auto.
 *   NOTE: off by default because today's one-subgroup tensor-core tile loses in the real workload:
 *   the seed's fp16 QLoRA step ran at 3,940 tok/s with it and 4,960 without (H200, 2026-11-29, one
 *   lease); at 4096³ it only ties the CUDA-core tile (34.4 vs 35.5 TFLOP/s).
 * - `vectorLoads`: read operands as vec4s where their contiguous axis is a multiple of 4.
 */
export const matmulSettings: { tile: 'auto' | MatmulTile; f16Fma: boolean; tensorCores: 'auto' | 'on' | 'off'; vectorLoads: boolean } = {
  tile: 'auto',
  f16Fma: true,
  vectorLoads: true,
  tensorCores: envTensorCores(),
};

function envTensorCores(): 'auto' | 'on' | 'off' {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.Q_TENSOR_CORES;
  return v === 'on' || v === 'auto' ? v : 'off';
}

function isCpuAdapter(info: DeviceInfo): boolean {
  return /llvmpipe|lavapipe|swiftshader/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
}

/**
 * The tensor-core tile for a device, or null: it needs 'chromium-experimental-subgroup-matrix'
 * with an f16 x f16 -> f32 shape, shader-f16, and one known subgroup size (Apple, Intel and
 * NVIDIA report different shapes: 8x8, 8x16, 16x16; the tile is built from whichever is there).
 * One subgroup per workgroup holds FM x FN accumulators of a 64 x 64 tile, K in steps of the
 * shape's K: one subgroup keeps every subgroup-matrix argument provably uniform (see
 * ./matmul-template). H200, f16 4096³: BK 16 ran at 34.4 TFLOP/s, BK 32 at 15, BK 64 at 8.6;
 * 2x4 or 4x2 fragments at 21-22.
 */
export function tensorCoreTile(info: DeviceInfo): TensorCoreTile | null {
  if (!info.subgroupMatrix || !info.f16) return null;
  const SG = info.subgroupMinSize;
  if (!SG || SG !== info.subgroupMaxSize) return null;
  // The largest f16 x f16 -> f32 shape the device offers.
  const cfg = info.subgroupMatrixConfigs
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32')
    .sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K)[0];
  if (!cfg) return null;
  let t: TensorCoreTile = { kind: 'tensor', TM: cfg.M, TN: cfg.N, TK: cfg.K, SG, SGM: 1, SGN: 1, FM: Math.max(1, Math.floor(64 / cfg.M)), FN: Math.max(1, Math.floor(64 / cfg.N)), BK: cfg.K * Math.max(1, Math.round(16 / cfg.K)) };
  while (gemmSharedBytes(t, 'f16') > info.limits.maxComputeWorkgroupStorageSize && (t.FM > 1 || t.FN > 1))
    t = { ...t, FM: Math.max(1, t.FM >> 1), FN: Math.max(1, t.FN >> 1) };
  const { threads } = tileShape(t);
  if (gemmSharedBytes(t, 'f16') > info.limits.maxComputeWorkgroupStorageSize || threads > info.limits.maxComputeInvocationsPerWorkgroup) return null;
  return t;
}

/** Tensor cores for this dtype on this device, as matmulSettings.tensorCores asks. */
export function useTensorCores(dtype: DType, info: DeviceInfo): TensorCoreTile | null {
  const mode = matmulSettings.tensorCores;
  if (mode === 'off' || dtype !== 'f16') return null;
  const t = tensorCoreTile(info);
  if (!t && mode === 'on') {
    throw new DeviceError(`matmul: tensorCores 'on', but this device has no f16 subgroup-matrix shape (features: ${info.features.join(', ')})`);
  }
  return t;
}

/** The tile, or its single-stage form, or the 64x64 tile: the first that fits workgroup memory. */
export function fitTile(t: CudaCoreTile, shared: 'f32' | 'f16', info: DeviceInfo): CudaCoreTile {
  const limit = info.limits.maxComputeWorkgroupStorageSize;
  for (const c of [t, { ...t, stages: 1 as const }, TILE_64, { ...TILE_64, stages: 1 as const }]) if (gemmSharedBytes(c, shared) <= limit) return c;
  return { ...TILE_64, stages: 1 };
}

function pickTile(d: Dims, nb: number, dtype: DType, dev: Tensor['dev']): MatmulTile {
  const forced = matmulSettings.tile;
  const cpu = isCpuAdapter(dev.info);
  if (forced !== 'auto') {
    if (forced.kind === 'tensor') return forced;
    // A forced size keeps its size; only its stages give way to the device's workgroup memory.
    const one = { ...forced, stages: 1 as const };
    const fits = gemmSharedBytes(forced, dtype === 'f16' ? 'f16' : 'f32') <= dev.info.limits.maxComputeWorkgroupStorageSize;
    return { ...(fits ? forced : one), f16Fma: dtype === 'f16' && matmulSettings.f16Fma };
  }
  const tc = useTensorCores(dtype, dev.info);
  if (tc) return tc;
  let t: CudaCoreTile;
  if (cpu) {
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
  t = fitTile(t, dtype === 'f16' ? 'f16' : 'f32', dev.info);
  // f16 arithmetic is emulated through f32 on CPU adapters (slower there), native on GPUs.
  return { ...t, f16Fma: dtype === 'f16' && matmulSettings.f16Fma && !cpu };
}

/**
 * The dense matmul on the GEMM template: op(A) and op(B) read from f32/f16 bindings (as vec4s
 * where the contiguous axis allows), the result stored in the operands' dtype.
 */
function tileSource(dtype: DType, transA: boolean, transB: boolean, t: MatmulTile, vecA: boolean, vecB: boolean): KernelDecl {
  if (dtype !== 'f32' && dtype !== 'f16') throw new ShapeError(`matmul: dtype ${dtype} is not a float`);
  const T = WGSL_TYPE[dtype];
  const a = denseLoad({
    binding: 'a', dtype, per: vecA ? 4 : 1, along: transA ? 'mn' : 'k',
    index: transA ? 'offA + gk * u.M + gi' : 'offA + gi * u.K + gk',
  });
  const b = denseLoad({
    binding: 'b', dtype, per: vecB ? 4 : 1, along: transB ? 'k' : 'mn',
    index: transB ? 'offB + gi * u.K + gk' : 'offB + gk * u.N + gi',
  });
  const tag = t.kind === 'cuda' ? `${t.BM}${t.f16Fma ? '_fma16' : ''}` : `tc${tileShape(t).BM}x${tileShape(t).BN}`;
  return gemmKernel({
    name: `matmul${tag}${transA ? '_tA' : ''}${transB ? '_tB' : ''}_${dtype}`,
    bindings: [
      { name: 'a', dtype, vec4: vecA },
      { name: 'b', dtype, vec4: vecB },
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
    M: 'u.M',
    N: 'u.N',
    // Split-K: workgroup layer z sums k in [z·kPer, (z+1)·kPer) into its own output slice.
    prologue: `let offA = wid.z * u.strideA; let offB = wid.z * u.strideB; let offC = wid.z * u.M * u.N;
  let kStart = u.split * wid.z * u.kPer;
  let kEnd = select(u.K, min(u.K, kStart + u.kPer), u.split == 1u);`,
    kStart: 'kStart',
    kEnd: 'kEnd',
    a,
    b,
    store: (row, col, v) => `c[offC + ${row} * u.N + ${col}] = ${T}(${v});`,
    shared: t.kind === 'tensor' || dtype === 'f16' ? 'f16' : 'f32',
    tile: t,
  });
}

const kernels = new Map<string, KernelDecl>();

function matmulGpu(a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  if (a.dtype !== b.dtype) throw new ShapeError(`matmul: dtypes differ (${a.dtype}, ${b.dtype})`);
  const d = dims(a.shape, b.shape, attrs);
  const c = empty([...d.batch, d.M, d.N], a.dtype, a.dev);
  const nb = numel(d.batch);
  if (nb === 1 && !attrs.transA && attrs.transB && d.M <= GEMV_MAX_ROWS && d.K >= 64) {
    c.release();
    return gemvTransB(a, b, d.M, d.N, d.K).reshape([...d.batch, d.M, d.N]);
  }
  const t = pickTile(d, nb, a.dtype, a.dev);
  const { BM, BN, BK } = tileShape(t);
  // vec4 loads where the operand's contiguous axis (and so every row and batch offset) is a
  // multiple of 4 elements.
  const vecA = matmulSettings.vectorLoads && (attrs.transA ? d.M : d.K) % 4 === 0;
  const vecB = matmulSettings.vectorLoads && (attrs.transB ? d.K : d.N) % 4 === 0;
  const key = `${a.dtype}${attrs.transA}${attrs.transB}${JSON.stringify(t)}${vecA}${vecB}`;
  let k = kernels.get(key);
  if (!k) kernels.set(key, (k = tileSource(a.dtype, attrs.transA, attrs.transB, t, vecA, vecB)));
  const tiles = Math.ceil(d.N / BN) * Math.ceil(d.M / BM);
  // A long K over few output tiles (an lm_head's input gradient: K = vocabulary) would leave most
  // of the GPU idle: split K over workgroup layers and sum the partial products.
  const splits = nb === 1 && d.K >= 8192 && tiles < 128 ? Math.min(64, Math.ceil(256 / tiles), Math.ceil(d.K / 1024)) : 1;
  if (splits > 1) {
    const kPer = Math.ceil(d.K / splits / BK) * BK;
    const parts = empty([splits, d.M, d.N], a.dtype, a.dev);
    launch(k, [a, b, parts], [Math.ceil(d.N / BN), Math.ceil(d.M / BM), Math.ceil(d.K / kPer)], [d.M, d.N, d.K, 0, 0, 1, kPer]);
    c.release();
    const out = sum(parts, [0]).reshape([...d.batch, d.M, d.N]);
    parts.release();
    return out;
  }
  launch(k, [a, b, c], [Math.ceil(d.N / BN), Math.ceil(d.M / BM), nb], [
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
