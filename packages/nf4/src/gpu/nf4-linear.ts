/**
 * y = x·Wᵀ with W a 4-bit weight read directly: each K step of W is decoded into workgroup memory
 * (code -> value via a 16-entry table, times the block's absmax) and multiplied by core's GEMM
 * template (CUDA-core 64x64 or 128x128 tiles, or tensor cores for f16 activations where the device
 * has subgroup matrices; register prefetch of the next step, f32 accumulation); the kernel is in
 * ./nf4-linear-kernel. No dense W is ever materialised.
 * Backward: dX = dY·W with the same decoding; W is frozen (no gradient).
 */
// x: [..., K] (f32 or f16), w: Nf4Weight [N, K] -> y: [..., N]
// backward: gy [..., N] -> gx [..., K]
import { ShapeError, type Tensor } from '@q/core';
import { defineOp, launch, empty, isCpuAdapter, splitsFor, sumSlices, tileShape, useTensorCores, TILE_64, TILE_128, type CpuTensor, type GemmTile } from '@q/core/kernel';
import { dequantizeNF4 } from '../dequantize';
import { nf4LinearKernel, sharedBytes, type Kernel, type Mode, type TileSize } from './nf4-linear-kernel';
import type { Nf4Weight } from './nf4-weight';

/**
 * Which kernel the fused op uses. `tile`: 'auto' picks by output size and adapter; tests and
 * benchmarks force a CUDA-core tile size or any template tile. `tensorCores` (f16 activations on
 * devices with subgroup matrices): the template's tensor-core variant, as far as core's
 * matmulSettings.tensorCores allows ('off' there turns it off here too).
 */
export const nf4LinearSettings: { tile: 'auto' | TileSize | GemmTile; tensorCores: boolean } = { tile: 'auto', tensorCores: true };

const kernels = new Map<string, Kernel>();

/** As core's matmul picks its tile, for an [M, C] output. */
function pickTile(M: number, C: number, dtype: 'f32' | 'f16', dev: Tensor['dev'], mode: Mode): GemmTile {
  const cpu = isCpuAdapter(dev.info);
  let B: TileSize;
  const forced = nf4LinearSettings.tile;
  if (typeof forced === 'object') return forced;
  if (forced !== 'auto') B = forced;
  else {
    // f16 activations on a device with subgroup matrices: tensor cores (matmulSettings.tensorCores).
    const tc = nf4LinearSettings.tensorCores ? useTensorCores(dtype, dev.info, M, C) : null;
    if (tc && sharedBytes(tc) <= dev.info.limits.maxComputeWorkgroupStorageSize) return tc;
    // CPU adapters: a few cores share all workgroups, so bigger tiles only add reuse.
    if (cpu) B = Math.min(M, C) >= 64 ? 128 : 64;
    // GPUs: 128x128 tiles do 4x the work per workgroup, worth it once there are enough of them to
    // fill a large GPU (~130 SMs).
    // Measured on an H200 (1024 tokens): the 128 tile helps the dX kernel (0.72x of dense at
    // 4864 outputs) but slows the forward (1.43x at 896→4864, against ~1.0x with 64 tiles).
    else B = mode === 'bwd' && Math.ceil(M / 128) * Math.ceil(C / 128) >= 192 ? 128 : 64;
  }
  const limit = dev.info.limits.maxComputeWorkgroupStorageSize;
  const base = B === 128 ? TILE_128 : TILE_64;
  // Two stages of workgroup tiles where they fit, else one, else the 64 tile.
  for (const t of [base, { ...base, stages: 1 as const }, TILE_64, { ...TILE_64, stages: 1 as const }]) if (sharedBytes(t) <= limit) return t;
  return { ...TILE_64, stages: 1 };
}

/** Runs the fused kernel: fwd a [M, K] -> [M, N]; bwd a [M, N] -> [M, K]. */
function fused(mode: Mode, a: Tensor, w: Nf4Weight, absmax: Tensor): Tensor {
  const [N, K] = w.shape as [number, number];
  const M = a.shape[0]!;
  const [R, C] = mode === 'fwd' ? [K, N] : [N, K];
  if (a.dtype !== 'f32' && a.dtype !== 'f16') throw new ShapeError(`nf4Linear: activations must be f32 or f16, got ${a.dtype}`);
  const y = empty([M, C], a.dtype, a.dev);
  if (M === 0 || C === 0) return y;
  const tile = pickTile(M, C, a.dtype, a.dev, mode);
  const aligned = K % 4 === 0;
  const vecA = R % 4 === 0;
  const { BM, BN, BK } = tileShape(tile);
  const dtype = a.dtype;
  const kernel = (split: boolean) => {
    const key = `${mode}/${a.dtype}/${w.dtype}/${aligned}/${vecA}/${JSON.stringify(tile)}/${split}`;
    let k = kernels.get(key);
    if (!k) kernels.set(key, (k = nf4LinearKernel(mode, dtype, w.dtype, aligned, tile, vecA, split)));
    return k;
  };
  const grid: [number, number] = [Math.ceil(C / BN), Math.ceil(M / BM)];
  const uniforms = [M, R, C, K, Math.log2(w.blocksize)];
  // Few output tiles over a long reduction (the k/v projections: 1024 x 128 outputs over 896)
  // leave a GPU idle: split the reduction as core's matmul does, summing f32 partial products.
  const splits = splitsFor(grid[0] * grid[1], R, BK, isCpuAdapter(a.dev.info));
  if (splits > 1) {
    const kPer = Math.ceil(R / splits / BK) * BK;
    const layers = Math.ceil(R / kPer);
    const parts = empty([layers, M, C], 'f32', a.dev);
    launch(kernel(true), [a, w.codes, absmax, w.qmap, parts], [...grid, layers], [...uniforms, kPer]);
    sumSlices(parts, y);
    parts.release();
    return y;
  }
  launch(kernel(false), [a, w.codes, absmax, w.qmap, y], grid, [...uniforms, 0]);
  return y;
}

export interface Nf4LinearAttrs {
  w: Nf4Weight;
}

// Float64 reference: dequantize on the CPU (bit-exact bitsandbytes), then x·Wᵀ in float64.
// Inputs: x [M, K], codes (u32 words), absmax (f32 per block), qmap.
function nf4LinearCpu([x, codes, absmax]: CpuTensor[], { w }: Nf4LinearAttrs): CpuTensor {
  const [N, K] = w.shape as [number, number];
  const words = Uint32Array.from(codes!.data);
  const dense = dequantizeNF4({
    doubleQuant: false,
    quantType: w.quantType,
    blocksize: w.blocksize,
    shape: [N, K],
    dtype: w.dtype,
    packed: new Uint8Array(words.buffer, 0, Math.ceil((N * K) / 2)),
    absmax: Float32Array.from(absmax!.data),
    quantMap: w.quantMap,
  });
  const M = x!.shape[0]!;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x!.data[m * K + k]! * dense[n * K + k]!;
      out[m * N + n] = s;
    }
  return { shape: [M, N], data: out };
}

export const nf4LinearOp = /* @__PURE__ */ defineOp<Nf4LinearAttrs>({
  name: 'nf4Linear',
  cpu: nf4LinearCpu,
  gpu: ([x, , absmax], { w }) => fused('fwd', x!, w, absmax!),
  // Nothing is saved: the codes live in w, and a double-quantized absmax is decoded again rather
  // than held from forward to backward (that would cost the 4.5 bits/parameter it saves).
  save: () => [],
  // y = x·Wᵀ  =>  dx = dy·W. W is frozen: no gradient for codes, absmax or the code map.
  backward: (gy, { attrs: { w } }) => [nf4LinearBackward(gy, w), null, null, null],
});

/**
 * A linear layer over a 4-bit weight without bias: y = x·Wᵀ, reading the packed codes directly.
 * Activations are f32, or f16 (stored f16, accumulated in f32) on devices with shader-f16.
 *
 * @example
 * ```ts
 * const w = Nf4Weight.upload(quantizeNF4(data, { shape: [out, inp] }));
 * const y = nf4Linear(x, w); // x: [B, T, inp] -> [B, T, out]; backward gives x.grad
 * ```
 */
export function nf4Linear(x: Tensor, w: Nf4Weight): Tensor {
  w.check();
  if (w.shape.length !== 2) throw new ShapeError(`nf4Linear: weight must be [out, in], got [${w.shape}]`);
  const [N, K] = w.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== K) throw new ShapeError(`nf4Linear: x [${x.shape}] does not end in the weight's in-features ${K} (weight [${N}, ${K}])`);
  // Views made here are released here; the tape keeps them as paths for the gradient.
  const x2 = x.rank === 2 ? x : x.reshape([-1, K]);
  const am = w.absmaxF32();
  try {
    const y = nf4LinearOp([x2, w.codes, am, w.qmap], { w });
    if (x.rank === 2) return y;
    const out = y.reshape([...x.shape.slice(0, -1), N]);
    y.release();
    return out;
  } finally {
    if (x2 !== x) x2.release();
    am.release();
  }
}

/**
 * The input gradient of {@link nf4Linear} without autograd: dX = dY·W, reading NF4 directly.
 *
 * @example
 * ```ts
 * const gx = nf4LinearBackward(gy, w); // gy: [..., out] -> [..., in]
 * ```
 */
export function nf4LinearBackward(gy: Tensor, w: Nf4Weight): Tensor {
  w.check();
  const [N, K] = w.shape as [number, number];
  if (gy.rank < 1 || gy.shape[gy.rank - 1] !== N) throw new ShapeError(`nf4LinearBackward: dy [${gy.shape}] does not end in the weight's out-features ${N}`);
  const g2 = gy.rank === 2 ? gy : gy.reshape([-1, N]);
  const am = w.absmaxF32();
  const gx = fused('bwd', g2, w, am);
  am.release();
  if (g2 !== gy) g2.release();
  if (gy.rank === 2) return gx;
  const out = gx.reshape([...gy.shape.slice(0, -1), K]);
  gx.release();
  return out;
}
