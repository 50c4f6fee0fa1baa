/**
 * @q/core: the user API. A WebGPU device, tensors, ops with autograd, and safetensors I/O, in
 * Node (through the optional `webgpu` package) and in browsers. Kernel authors import
 * `@q/core/kernel` for `defineOp`, `launch` and the WGSL helpers.
 *
 * An explicit list: what is not named here is internal. Nothing here registers anything at load
 * time, so bundlers may drop what a program does not use.
 *
 * @packageDocumentation
 */

// Errors
export { QError, ConfigError, FormatError, ShapeError, ValueError, DeviceError } from './errors';

// Device and memory
export { getDevice, device, QDevice, type KernelTiming } from './runtime';
export type { DeviceOptions, DeviceInfo } from './device';
export type { MemoryStats } from './pool';

// Tensors
export { type DType, DTYPE_BYTES, numel, isFloat } from './dtype';
export { Tensor } from './tensor';
export { tensor, full, zeros, ones, randn, rand, assertFinite, type CreateOptions } from './create';
export { keep, tidy } from './scope';
export { Rng } from './random';

// Autograd
export { backward, checkpoint, noGrad, isGradEnabled, tapeSize } from './autograd';

// Ops
export { add, sub, mul, div, scale, addScalar, exp, log, sqrt, square, neg, silu, unary, type UnaryName } from './ops/elementwise';
export { sum, sumTo, type SumAttrs } from './ops/reduce';
export { expandTo } from './ops/expand';
export { matmul, type MatmulAttrs } from './ops/matmul';
export { embedding } from './ops/embedding';
export { rmsNorm } from './ops/rmsnorm';
export { rope, ropeTables, RotaryTables } from './ops/rope';
export { swiglu } from './ops/swiglu';
export { softmax } from './ops/softmax';
export { maskedSoftmax, type MaskedSoftmaxAttrs } from './ops/masked-softmax';
export { permute } from './ops/permute';
export { attention, attentionFused, attentionSettings, type AttentionAttrs } from './ops/attention';
export { flashAttention, type FlashAttentionAttrs } from './ops/flash-attention';
export { crossEntropy, type CrossEntropyAttrs } from './ops/cross-entropy';
export { linearCrossEntropy, type LinearCrossEntropyAttrs } from './ops/linear-cross-entropy';
export { dropout, dropoutKeeps } from './ops/dropout';
export { cast } from './ops/cast';

// Safetensors and bytes
export { type ByteSource, type ByteSink, bytesSource, memorySink } from './io/byte-source';
export { f32ToF16, f16ToF32, f32ToBf16, bf16ToF32 } from './io/dtype-codecs';
export { SAFETENSORS_DTYPES, type SafetensorsDtype, isSafetensorsDtype, dtypeByteLength } from './io/safetensors-dtype';
export {
  type SafetensorsTensorInfo,
  type SafetensorsHeader,
  parseSafetensorsHeader,
  decodeSafetensorsHeader,
} from './io/safetensors-header';
export { SAFETENSORS_INDEX_FILE, type SafetensorsIndex, parseSafetensorsIndex, serializeSafetensorsIndex } from './io/safetensors-index';
export { type SafetensorsReader, readSafetensors } from './io/safetensors-reader';
export { shardFileName, planShards, writeShardedSafetensors, type ShardedWriteOptions } from './io/safetensors-shards';
export {
  type SafetensorsEntry,
  type LazySafetensorsEntry,
  serializeSafetensors,
  serializeSafetensorsAsync,
  writeSafetensors,
} from './io/safetensors-writer';
export type { TypedArray } from './io/typed-array';

// Config helpers shared by the @q packages' option objects
export {
  toCamelCase,
  toSnakeCase,
  closestName,
  normalizeKeys,
  withDefaults,
  type NormalizeKeysOptions,
  checkNumber,
  checkInteger,
  checkEnum,
  checkBoolean,
  checkString,
  checkStringList,
  type NumberRange,
} from './config';
