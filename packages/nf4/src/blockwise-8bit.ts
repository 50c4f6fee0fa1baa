/**
 * Blockwise 8-bit quantization with a 256-entry code book, as bitsandbytes' CUDA kernel
 * `kQuantizeBlockwise<..., General8bit>` does it. Double quantization uses it to store the
 * per-block absmax of 4-bit weights in one byte each.
 */

const f = Math.fround;

/**
 * bitsandbytes' `dQuantize<0>`: a 7-step binary search over a sorted 256-entry code, then a
 * comparison with the midpoint to the neighbour on the side the value lies. Ties go to the pivot
 * (the last probed entry). `lower`/`upper` start at -1/1 and are only refreshed from the code at
 * the edges (indices 0 and 255), exactly as the kernel does.
 *
 * @example
 * ```ts
 * quantize8bitValue(dynamicMap(), 0) // 127
 * ```
 */
export function quantize8bitValue(code: Float32Array, x: number): number {
  let pivot = 127;
  let upperPivot = 255;
  let lowerPivot = 0;
  let lower = -1;
  let upper = 1;
  let val = code[pivot];
  for (let i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lowerPivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upperPivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = code[pivot];
  }
  if (upperPivot === 255) upper = code[upperPivot];
  if (lowerPivot === 0) lower = code[lowerPivot];
  if (x > val) {
    const midpoint = f(f(upper + val) * 0.5);
    return x > midpoint ? upperPivot : pivot;
  }
  const midpoint = f(f(lower + val) * 0.5);
  return x < midpoint ? lowerPivot : pivot;
}

/** Result of {@link quantizeBlockwise8bit}. */
export interface Blockwise8bit {
  /** One code index per input value. */
  codes: Uint8Array;
  /** float32 max |value| per block of `blocksize` (the last block may be partial). */
  absmax: Float32Array;
}

/**
 * Quantize float32 values blockwise to 8-bit indices into `code`: x = value * (1/absmax) in
 * float32 (a reciprocal, not a division, like the kernel), then {@link quantize8bitValue}.
 * An all-zero block has absmax 0, so x = 0 * inf = NaN, which the search maps to index 0; it
 * dequantizes to code[0] * 0 = -0.
 *
 * @example
 * ```ts
 * const { codes, absmax } = quantizeBlockwise8bit(Float32Array.of(0.5, -1), dynamicMap(), 256)
 * ```
 */
export function quantizeBlockwise8bit(
  values: Float32Array,
  code: Float32Array,
  blocksize: number,
): Blockwise8bit {
  const n = values.length;
  const blocks = Math.ceil(n / blocksize);
  const codes = new Uint8Array(n);
  const absmax = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(start + blocksize, n);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i]));
    absmax[b] = m;
    const inv = f(1 / m);
    for (let i = start; i < end; i++) codes[i] = quantize8bitValue(code, f(values[i] * inv));
  }
  return { codes, absmax };
}

/**
 * Inverse of {@link quantizeBlockwise8bit}: code[q] * absmax[block], rounded to float32 as
 * `kDequantizeBlockwise` does.
 */
export function dequantizeBlockwise8bit(
  codes: Uint8Array,
  absmax: Float32Array,
  code: Float32Array,
  blocksize: number,
): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = code[codes[i]] * absmax[Math.floor(i / blocksize)];
  return out;
}
