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
import { launch, grid1d, LINEAR_INDEX, type KernelDecl } from '../wgsl';
import { numel, WGSL_TYPE, type DType } from '../dtype';
import { DeviceError, ShapeError } from '../errors';
import type { DeviceInfo } from '../device';
import { denseLoad, gemmKernel, gemmSharedBytes, tileShape, type CudaCoreTile, type GemmTile, type TensorCoreTile } from './matmul-template';
import { sameShape } from '../shape';
import { sumTo } from './reduce';
import { cast } from './cast';
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
 *   and an f16 x f16 -> f32 shape ({@link tensorCoreTileFor}); 'off' never; 'on' insists (an error
 *   where the device has none). Default 'auto', or the env variable Q_TENSOR_CORES=on|off|auto.
 *   On an H200 the multi-subgroup tiles ran f16 at 117.6 TFLOP/s (4096³) against 35.6 on CUDA
 *   cores, and the seed's fp16 QLoRA step went from 4,960 to 6,700 tok/s with them.
 * - `vectorLoads`: read operands as vec4s where their contiguous axis is a multiple of 4.
 * - `splitK`: 'auto' splits K over workgroup layers when the output has too few tiles to fill a
 *   GPU (see {@link splitsFor}); a number forces that many splits (tests).
 */
export const matmulSettings: { tile: 'auto' | MatmulTile; f16Fma: boolean; tensorCores: 'auto' | 'on' | 'off'; vectorLoads: boolean; splitK: 'auto' | number } = {
  tile: 'auto',
  splitK: 'auto',
  f16Fma: true,
  vectorLoads: true,
  tensorCores: envTensorCores(),
};

function envTensorCores(): 'auto' | 'on' | 'off' {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.Q_TENSOR_CORES;
  return v === 'on' || v === 'off' ? v : 'auto';
}

/** Whether the adapter is a CPU implementation (lavapipe, SwiftShader): tile and split choices differ there. */
export function isCpuAdapter(info: DeviceInfo): boolean {
  return /llvmpipe|lavapipe|swiftshader/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
}

/**
 * Tensor-core tile shapes, in subgroup-matrix units: SGM x SGN subgroups per workgroup, each
 * holding FM x FN result fragments, K in steps of BKx matrix Ks. Multi-subgroup shapes need the
 * 'subgroups' feature (the subgroup_id builtin); `single` is the fallback without it.
 * H200, f16, robustness off (2026-11-29, one call): at 4096³ 4x2 subgroups of 2x4 fragments ran
 * at 117.6 TFLOP/s, 2x2 of 4x4 at 91.4, 2x2 of 2x2 at 53.9, the single subgroup at 42.1; at the
 * seed's 2048 x 896 -> 4864 projection 86.7 / 66.0 / 58.8 / 16.9; at 2048 x 896 -> 896 (112
 * tiles of 128) 2x2 of 4x4 won (40.0 against 23.5 and 26.9).
 */
export const tensorCoreShapes: Record<'large' | 'medium' | 'small' | 'single', Pick<TensorCoreTile, 'SGM' | 'SGN' | 'FM' | 'FN'> & { BKx: number }> = {
  large: { SGM: 4, SGN: 2, FM: 2, FN: 4, BKx: 2 },
  medium: { SGM: 2, SGN: 2, FM: 4, FN: 4, BKx: 2 },
  small: { SGM: 2, SGN: 2, FM: 2, FN: 2, BKx: 2 },
  single: { SGM: 1, SGN: 1, FM: 4, FN: 4, BKx: 1 },
};

/**
 * The tensor-core tile for a device, or null: it needs 'chromium-experimental-subgroup-matrix'
 * with an f16 x f16 -> f32 shape, shader-f16, and one known subgroup size (Apple, Intel and
 * NVIDIA report different shapes: 8x8, 8x16, 16x16; the tile is built from whichever is there,
 * fragment counts scaled so a 16x16 shape's tile edges are kept). `size` picks from
 * {@link tensorCoreShapes}; shapes that do not fit the device's workgroup memory or invocation
 * limit shrink their fragment counts.
 */
export function tensorCoreTile(info: DeviceInfo, size: 'large' | 'medium' | 'small' = 'large'): TensorCoreTile | null {
  if (!info.subgroupMatrix || !info.f16) return null;
  const SG = info.subgroupMinSize;
  if (!SG || SG !== info.subgroupMaxSize) return null;
  // The largest f16 x f16 -> f32 shape the device offers.
  const cfg = info.subgroupMatrixConfigs
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32')
    .sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K)[0];
  if (!cfg) return null;
  const shape = info.subgroups ? tensorCoreShapes[size] : tensorCoreShapes.single;
  let t: TensorCoreTile = {
    kind: 'tensor', TM: cfg.M, TN: cfg.N, TK: cfg.K, SG, SGM: shape.SGM, SGN: shape.SGN,
    FM: Math.max(1, Math.floor((shape.FM * 16) / cfg.M)), FN: Math.max(1, Math.floor((shape.FN * 16) / cfg.N)),
    BK: cfg.K * Math.max(1, Math.round((16 * shape.BKx) / cfg.K)),
  };
  const fits = (c: TensorCoreTile) => gemmSharedBytes(c, 'f16') <= info.limits.maxComputeWorkgroupStorageSize && tileShape(c).threads <= info.limits.maxComputeInvocationsPerWorkgroup;
  while (!fits(t) && (t.FM > 1 || t.FN > 1)) t = { ...t, FM: Math.max(1, t.FM >> 1), FN: Math.max(1, t.FN >> 1) };
  return fits(t) ? t : null;
}

/**
 * The tensor-core tile for an M x N output (batch nb): the 256-thread 128x128 tile once there are
 * two waves of them on a ~130-SM GPU, the 128-thread 128x128 tile from half a wave, else 64x64
 * (which matmul pairs with split-K when K is long).
 */
export function tensorCoreTileFor(info: DeviceInfo, M: number, N: number, nb = 1): TensorCoreTile | null {
  const large = tensorCoreTile(info, 'large');
  if (!large) return null;
  const { BM, BN } = tileShape(large);
  const tiles = Math.ceil(M / BM) * Math.ceil(N / BN) * nb;
  return tiles >= tensorCoreThresholds.large ? large : tiles >= tensorCoreThresholds.medium ? tensorCoreTile(info, 'medium') : tensorCoreTile(info, 'small');
}

/** From how many 128x128 output tiles {@link tensorCoreTileFor} takes the large and the medium shape. */
export const tensorCoreThresholds = { large: 264, medium: 64 };

/** Tensor cores for this dtype on this device, as matmulSettings.tensorCores asks. */
export function useTensorCores(dtype: DType, info: DeviceInfo, M = 4096, N = 4096, nb = 1): TensorCoreTile | null {
  const mode = matmulSettings.tensorCores;
  if (mode === 'off' || dtype !== 'f16') return null;
  const t = tensorCoreTileFor(info, M, N, nb);
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
  const tc = useTensorCores(dtype, dev.info, d.M, d.N, nb);
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
function tileSource(dtA: DType, dtB: DType, out: DType, transA: boolean, transB: boolean, t: MatmulTile, vecA: boolean, vecB: boolean): KernelDecl {
  for (const dt of [dtA, dtB, out]) if (dt !== 'f32' && dt !== 'f16') throw new ShapeError(`matmul: dtype ${dt} is not a float`);
  const a = denseLoad({
    binding: 'a', dtype: dtA as 'f32' | 'f16', per: vecA ? 4 : 1, along: transA ? 'mn' : 'k',
    index: transA ? 'offA + gk * u.M + gi' : 'offA + gi * u.K + gk',
  });
  const b = denseLoad({
    binding: 'b', dtype: dtB as 'f32' | 'f16', per: vecB ? 4 : 1, along: transB ? 'k' : 'mn',
    index: transB ? 'offB + gi * u.K + gk' : 'offB + gk * u.N + gi',
  });
  const tag = t.kind === 'cuda' ? `${t.BM}${t.f16Fma ? '_fma16' : ''}` : `tc${tileShape(t).BM}x${tileShape(t).BN}`;
  const types = dtA === dtB && dtA === out ? dtA : `${dtA}_${dtB}_${out}`;
  return gemmKernel({
    name: `matmul${tag}${transA ? '_tA' : ''}${transB ? '_tB' : ''}_${types}`,
    bindings: [
      { name: 'a', dtype: dtA, vec4: vecA },
      { name: 'b', dtype: dtB, vec4: vecB },
      { name: 'c', dtype: out, access: 'read_write' },
    ],
    uniforms: [
      ['M', 'u32'],
      ['N', 'u32'],
      ['K', 'u32'],
      ['strideA', 'u32'],
      ['strideB', 'u32'],
      ['split', 'u32'],
      ['kPer', 'u32'],
      ['nb', 'u32'],
    ],
    M: 'u.M',
    N: 'u.N',
    // Workgroup layer z = batch entry zb, K split zs (u.split splits, 1 = none): split zs sums k in
    // [zs·kPer, (zs+1)·kPer) of its batch entry into output slice (zs, zb) of [split, nb, M, N].
    prologue: `let zb = wid.z / u.split; let zs = wid.z % u.split;
  let offA = zb * u.strideA; let offB = zb * u.strideB; let offC = (zs * u.nb + zb) * u.M * u.N;
  let kStart = zs * u.kPer;
  let kEnd = select(u.K, min(u.K, kStart + u.kPer), u.split > 1u);`,
    kStart: 'kStart',
    kEnd: 'kEnd',
    a,
    b,
    store: (row, col, v) => `c[offC + ${row} * u.N + ${col}] = ${WGSL_TYPE[out]}(${v});`,
    shared: t.kind === 'tensor' || (dtA === 'f16' && dtB === 'f16') ? 'f16' : 'f32',
    tile: t,
  });
}

const kernels = new Map<string, KernelDecl>();

function matmulGpu(a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  return matmulMixed(a, b, attrs);
}

/**
 * The GPU product without autograd, for kernels that compose it (the fused lm_head loss): A and B
 * may differ in float dtype (an f16 activation against an f32 weight is read as f32 and rounded
 * to f16 in the tile on tensor cores, as autocast would cast the weight); the result has A's dtype.
 */
export function matmulMixed(a: Tensor, b: Tensor, attrs: MatmulAttrs): Tensor {
  const d = dims(a.shape, b.shape, attrs);
  const c = empty([...d.batch, d.M, d.N], a.dtype, a.dev);
  const nb = numel(d.batch);
  if (a.dtype === b.dtype && nb === 1 && !attrs.transA && attrs.transB && d.M <= GEMV_MAX_ROWS && d.K >= 64) {
    c.release();
    return gemvTransB(a, b, d.M, d.N, d.K).reshape([...d.batch, d.M, d.N]);
  }
  // Mixed operands take the tile of their narrower dtype (tensor cores for f16 x f32).
  const t = pickTile(d, nb, a.dtype === 'f16' || b.dtype === 'f16' ? 'f16' : a.dtype, a.dev);
  const { BM, BN, BK } = tileShape(t);
  // vec4 loads where the operand's contiguous axis (and so every row and batch offset) is a
  // multiple of 4 elements.
  const vecA = matmulSettings.vectorLoads && (attrs.transA ? d.M : d.K) % 4 === 0;
  const vecB = matmulSettings.vectorLoads && (attrs.transB ? d.K : d.N) % 4 === 0;
  const kernel = (out: DType) => {
    const key = `${a.dtype}${b.dtype}${out}${attrs.transA}${attrs.transB}${JSON.stringify(t)}${vecA}${vecB}`;
    let k = kernels.get(key);
    if (!k) kernels.set(key, (k = tileSource(a.dtype, b.dtype, out, attrs.transA, attrs.transB, t, vecA, vecB)));
    return k;
  };
  const tiles = Math.ceil(d.N / BN) * Math.ceil(d.M / BM);
  const strideA = d.batchA === 1 ? 0 : d.M * d.K;
  const strideB = d.batchB === 1 ? 0 : d.K * d.N;
  // Batched products count all their tiles (attention's dK = dSᵀ·Q: 4 batch entries of 512 x 64
  // outputs over K = 3584 would otherwise run 32 workgroups).
  const splits = splitsFor(tiles * nb, d.K, BK, isCpuAdapter(a.dev.info));
  if (splits > 1) {
    // Split zs sums its K range into its own f32 slice; the slices are summed (and rounded to the
    // output dtype) after.
    const kPer = Math.ceil(d.K / splits / BK) * BK;
    const layers = Math.ceil(d.K / kPer);
    const parts = empty([layers, nb, d.M, d.N], 'f32', a.dev);
    launch(kernel('f32'), [a, b, parts], [Math.ceil(d.N / BN), Math.ceil(d.M / BM), nb * layers], [d.M, d.N, d.K, strideA, strideB, layers, kPer, nb]);
    sumSlices(parts, c);
    parts.release();
    return c;
  }
  launch(kernel(a.dtype), [a, b, c], [Math.ceil(d.N / BN), Math.ceil(d.M / BM), nb], [d.M, d.N, d.K, strideA, strideB, 1, 0, nb]);
  return c;
}

/**
 * out = the sum of the f32 slices of `parts` ([S, ...out.shape]), in out's dtype: the reduction of
 * a split-K product. One thread per 4 outputs, the slices summed in order.
 */
export function sumSlices(parts: Tensor, out: Tensor): void {
  const n = out.size;
  const S = parts.shape[0]!;
  const vec = n % 4 === 0;
  const T = WGSL_TYPE[out.dtype];
  const key = `sumslices${out.dtype}${vec}`;
  let k = kernels.get(key);
  if (!k) {
    kernels.set(key, (k = {
      name: `splitk_sum_${out.dtype}${vec ? '_v4' : ''}`,
      bindings: [
        { name: 'p', dtype: 'f32', vec4: vec },
        { name: 'y', dtype: out.dtype, access: 'read_write' },
      ],
      uniforms: [['n', 'u32'], ['S', 'u32']],
      body: vec
        ? `let i = ${LINEAR_INDEX}; let q = u.n / 4u; if (i >= q) { return; }
  var s = vec4<f32>(0.0);
  for (var z = 0u; z < u.S; z++) { s += p[z * q + i]; }
  ${out.dtype === 'f32' ? 'y[4u * i] = s.x; y[4u * i + 1u] = s.y; y[4u * i + 2u] = s.z; y[4u * i + 3u] = s.w;' : `y[4u * i] = ${T}(s.x); y[4u * i + 1u] = ${T}(s.y); y[4u * i + 2u] = ${T}(s.z); y[4u * i + 3u] = ${T}(s.w);`}`
        : `let i = ${LINEAR_INDEX}; if (i >= u.n) { return; }
  var s = 0.0;
  for (var z = 0u; z < u.S; z++) { s += p[z * u.n + i]; }
  y[i] = ${T}(s);`,
    }));
  }
  launch(k, [parts, out], grid1d(vec ? n / 4 : n), [n, S]);
}

/**
 * How many K splits an output of `tiles` workgroup tiles gets. Few tiles over a long K leave most
 * of a GPU idle (a LoRA gradient: 64 x 896 outputs over 1024 tokens; an lm_head's input gradient:
 * K = vocabulary), so K is split over workgroup layers until about one wave of ~132 SMs is busy,
 * each layer keeping at least 256 of K. CPU adapters (a few cores) only split very long K.
 */
export function splitsFor(tiles: number, K: number, BK: number, cpu: boolean): number {
  const forced = matmulSettings.splitK;
  if (forced !== 'auto') return Math.max(1, Math.min(forced, Math.ceil(K / BK)));
  if (K >= 8192 && tiles < 128) return Math.min(64, Math.ceil(256 / tiles), Math.ceil(K / 1024));
  if (cpu || tiles >= 66 || K < 512) return 1;
  return Math.min(Math.ceil(132 / tiles), Math.floor(K / 256));
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
    // Mixed dtypes (f16 activations against an f32 weight, as under autocast): each gradient is
    // computed from the f16 factors and cast to its operand's dtype, as the cast's backward would.
    const as = (g: Tensor | null, t: Tensor) => (g && g.dtype !== t.dtype ? castOwned(g, t.dtype) : g);
    const da = !na ? null : transA ? as(matmul(b!, gc, { transA: transB, transB: true }), a!) : as(matmul(gc, b!, { transB: !transB }), a!);
    const db = !nb ? null : transB ? as(matmul(gc, a!, { transA: true, transB: transA }), b!) : as(matmul(a!, gc, { transA: !transA }), b!);
    return [da && reduceBatch(da, sa!), db && reduceBatch(db, sb!)];
  },
});

function castOwned(g: Tensor, to: DType): Tensor {
  const c = cast(g, to);
  g.release();
  return c;
}

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
