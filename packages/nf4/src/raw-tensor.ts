/**
 * A tensor as a safetensors file stores it: dtype tag, shape, little-endian bytes.
 * {@link RawTensor} is assignable to @q/core's `SafetensorsEntry`, so `toBnbTensors` output goes
 * straight to the safetensors writer; readers' tensors fit {@link RawTensorLike}.
 */

/** safetensors dtype tags this package reads or writes. */
export type RawDtype = 'U8' | 'I8' | 'F16' | 'BF16' | 'F32' | 'F64';

/** Bytes per element of each {@link RawDtype}. */
export const RAW_DTYPE_BYTES: Readonly<Record<RawDtype, number>> = { U8: 1, I8: 1, F16: 2, BF16: 2, F32: 4, F64: 8 };

/** One tensor of a safetensors file. */
export interface RawTensor {
  dtype: RawDtype;
  shape: number[];
  data: Uint8Array;
}

/** Any tensor with a dtype name, a shape and its bytes (what a safetensors reader yields). */
export interface RawTensorLike {
  dtype: string;
  shape: readonly number[];
  data: Uint8Array;
}

/** float32 values as little-endian bytes. */
export function f32ToBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/** Little-endian bytes as float32 values (length must be a multiple of 4). */
export function bytesToF32(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length >> 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
