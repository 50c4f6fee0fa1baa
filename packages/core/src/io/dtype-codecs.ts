/**
 * Bit-exact conversions between float32 and the two 16-bit float formats found in checkpoints.
 * Round-to-nearest-even throughout, matching what PyTorch does on `tensor.half()` / `.bfloat16()`,
 * so a model saved here and loaded in Python holds the same bits.
 *
 * NOTE: all views assume a little-endian host; every JS engine that runs WebGPU is one.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of one float32 as an unsigned 32-bit integer. */
function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** One float32 (given by its bits) to float16 bits, round-to-nearest-even; NaN → quiet NaN with sign. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | (mant !== 0 ? 0x7e00 : 0x7c00);
  // Exponent rebiased from 127 to 15.
  const he = exp - 112;
  if (he >= 0x1f) return sign | 0x7c00;
  if (he <= 0) {
    // Below 2^-25 every value rounds to zero (2^-25 itself is a tie that goes to even 0).
    if (he < -10) return sign;
    // Value = m·2^(exp-150) = h·2^-24, so h = m >> (14 - he); round the dropped bits.
    const m = mant | 0x800000;
    const s = 14 - he;
    let h = Math.floor(m / 2 ** s);
    const rem = m - h * 2 ** s;
    const half = 2 ** (s - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h; // h may reach 0x400: the smallest normal, which is the right encoding.
  }
  let h = (he << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to 0x7c00 = Inf, as IEEE requires.
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** float16 bits to the float32 value they encode (exact: every f16 is an f32). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * One float32 (given by its bits) to bfloat16 bits exactly as PyTorch's `round_to_nearest_even`
 * (c10/util/BFloat16.h): every NaN becomes 0x7FC0, the rest add a bias of 0x7FFF plus the lowest
 * kept bit and truncate, which rounds ties to even and overflows to Inf.
 */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return 0x7fc0;
  return ((x + (((x >>> 16) & 1) + 0x7fff)) >>> 16) & 0xffff;
}

/**
 * float32 values to float16 bits.
 *
 * @example
 * ```ts
 * f32ToF16(new Float32Array([1, 65504, 1e6])) // Uint16Array [0x3c00, 0x7bff, 0x7c00]
 * ```
 */
export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  return out;
}

/**
 * float16 bits to float32 values.
 *
 * @example
 * ```ts
 * f16ToF32(new Uint16Array([0x3c00, 0x0001])) // Float32Array [1, 5.960464477539063e-8]
 * ```
 */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]);
  return out;
}

/**
 * float32 values to bfloat16 bits, rounding as PyTorch does.
 *
 * @example
 * ```ts
 * f32ToBf16(new Float32Array([1, 3.14159])) // Uint16Array [0x3f80, 0x4049]
 * ```
 */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16Bits(bits[i]);
  return out;
}

/**
 * bfloat16 bits to float32 values (exact: bf16 is the top half of an f32).
 *
 * @example
 * ```ts
 * bf16ToF32(new Uint16Array([0x3f80])) // Float32Array [1]
 * ```
 */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** Bits of a float32 value, for tests and callers that hold numbers rather than arrays. */
export function f32Bits(x: number): number {
  return bitsOf(x);
}
