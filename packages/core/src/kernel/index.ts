/**
 * @q/core/kernel: for kernel authors. Declare an op once with {@link defineOp} (float64 CPU
 * reference, GPU forward, backward rule), write its WGSL body with {@link launch} and the grid
 * helpers, and reuse the shared GEMM tiles. Explicit list; nothing registers at load time.
 *
 * @packageDocumentation
 */

// Declaring ops
export { defineOp, isOp, type Op, type OpDef, type BackwardCtx, type CpuTensor } from '../op';
export { record, saveRef, clearTape, type TapeNode } from '../autograd';

// Kernels and dispatch
export { launch, grid1d, kernelSource, LINEAR_INDEX, type KernelDecl, type BindingDecl, type Access } from '../wgsl';
export type { Binding, DispatchArgs } from '../runtime';
export { empty, Storage } from '../tensor';
export { WGSL_TYPE, type TypedArrayOf } from '../dtype';
export { stridesOf, broadcastShapes, broadcastStrides, sameShape } from '../shape';
export { addInPlace, fillInPlace } from '../ops/elementwise';
export { broadcastIndex, broadcastCpu } from '../ops/expand';
export { ROW_MAX_SUM } from '../ops/softmax';
export { TILE_64, TILE_128, matmulSettings, tensorCoreTile, tensorCoreTileFor, tensorCoreShapes, tensorCoreThresholds, useTensorCores, splitsFor, sumSlices, matmulMixed, isCpuAdapter, fitTile, type MatmulTile } from '../ops/matmul';
export {
  gemmKernel, denseLoad, tileShape, gemmSharedBytes, type GemmTile, type GemmSpec, type TileLoad, type CudaCoreTile, type TensorCoreTile,
} from '../ops/matmul-template';
export { gemvTransB, GEMV_MAX_ROWS } from '../ops/gemv';

// Bit-level codecs for kernels that pack halves themselves
export { f32BitsToF16Bits, f16BitsToF32, f32BitsToBf16Bits, f32Bits } from '../io/dtype-codecs';
export { viewAs, bytesOf } from '../io/typed-array';
