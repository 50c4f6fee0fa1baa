import type { SafetensorsDtype } from './safetensors-dtype';

/** Any typed array a tensor's elements can live in. */
export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/**
 * A view of little-endian tensor bytes as the typed array of their dtype: F16 and BF16 as raw
 * Uint16 bits, packed and 8-bit float formats as Uint8, C64 as interleaved float32 pairs.
 * Copies only when `bytes` is not aligned to the element size.
 *
 * @example
 * ```ts
 * viewAs('I64', bytes) // BigInt64Array
 * ```
 */
export function viewAs(dtype: SafetensorsDtype, bytes: Uint8Array): TypedArray {
  const make = CTORS[dtype];
  const size = make.BYTES_PER_ELEMENT;
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new make(aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
}

/** The bytes behind a typed array, without copying. */
export function bytesOf(data: Uint8Array | TypedArray): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

type Ctor = { new (b: ArrayBufferLike, o: number, n: number): TypedArray; BYTES_PER_ELEMENT: number };

const CTORS: Record<SafetensorsDtype, Ctor> = {
  BOOL: Uint8Array, F4: Uint8Array, F6_E2M3: Uint8Array, F6_E3M2: Uint8Array, U8: Uint8Array,
  I8: Int8Array, F8_E5M2: Uint8Array, F8_E4M3: Uint8Array, F8_E8M0: Uint8Array,
  I16: Int16Array, U16: Uint16Array, F16: Uint16Array, BF16: Uint16Array,
  I32: Int32Array, U32: Uint32Array, F32: Float32Array, C64: Float32Array,
  F64: Float64Array, I64: BigInt64Array, U64: BigUint64Array,
};
