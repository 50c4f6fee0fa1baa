/**
 * The floating-point type a weight had before quantization. bitsandbytes records it in the quant
 * state and dequantizes back to it; values live in float32 containers here, rounded to the type.
 */

/** dtype names as bitsandbytes writes them in its quant state (`str(torch.dtype)` less "torch."). */
export type OriginDtype = 'float32' | 'float16' | 'bfloat16';

/** All origin dtypes, for validation messages. */
export const ORIGIN_DTYPES: readonly OriginDtype[] = ['float32', 'float16', 'bfloat16'];

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * Round a float32 value to bfloat16, ties to even (what torch and CUDA's `__float2bfloat16` do).
 *
 * @example
 * ```ts
 * roundToBfloat16(1 + 2 ** -8) // 1 (a tie, rounded to the even mantissa)
 * ```
 */
export function roundToBfloat16(x: number): number {
  if (Number.isNaN(x)) return x;
  scratchF32[0] = x;
  const bits = scratchU32[0];
  scratchU32[0] = ((bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000) >>> 0;
  return scratchF32[0];
}

/**
 * Round a float32 value to IEEE float16, ties to even; beyond the largest half (65504) plus half
 * an ulp the result is +-Infinity, as `__float2half` gives.
 *
 * @example
 * ```ts
 * roundToFloat16(65520) // Infinity
 * ```
 */
export function roundToFloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // Below 2^-14 half has subnormals with a fixed spacing of 2^-24.
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const q = a / ulp;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  return Math.sign(x) * r * ulp;
}

/** Round a float32 value to the given origin dtype (identity for float32). */
export function roundToDtype(x: number, dtype: OriginDtype): number {
  if (dtype === 'float16') return roundToFloat16(x);
  if (dtype === 'bfloat16') return roundToBfloat16(x);
  return Math.fround(x);
}
