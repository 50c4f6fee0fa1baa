/** Element types a tensor can hold on the GPU. Packed 4-bit data travels as `u32`. */
export type DType = 'f32' | 'f16' | 'i32' | 'u32';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u32: 4 };

/** The WGSL scalar type of a dtype. */
export const WGSL_TYPE: Record<DType, string> = { f32: 'f32', f16: 'f16', i32: 'i32', u32: 'u32' };

export type TypedArrayOf<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'f16'
    ? Uint16Array
    : D extends 'i32'
      ? Int32Array
      : Uint32Array;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

export function isFloat(d: DType): boolean {
  return d === 'f32' || d === 'f16';
}
