/**
 * The 4-bit code books and the decision trees bitsandbytes uses to pick a code.
 *
 * Source: bitsandbytes csrc/kernels.cu (`dQuantizeNF4`, `dQuantizeFP4`, `dDequantizeNF4`,
 * `dDequantizeFP4Tree`) and functional.py `get_4bit_type`. The thresholds are the float32
 * literals of the CUDA source (Math.fround of the decimal), compared with a strict `>`, so a value
 * exactly on a threshold takes the LOWER code, as on the GPU.
 */

/** A 4-bit data type bitsandbytes knows. */
export type QuantType = 'nf4' | 'fp4';

/** All 4-bit types, for validation messages. */
export const QUANT_TYPES: readonly QuantType[] = ['nf4', 'fp4'];

const f = Math.fround;

/**
 * NF4 code values, index = 4-bit code. Exactly `get_4bit_type('nf4')` in float32
 * (equal to the constants of `dDequantizeNF4`).
 *
 * @example
 * ```ts
 * NF4_CODE[7] // 0: code 0b0111 is the exact zero
 * ```
 */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

/**
 * FP4 (E2M1, bias 3) code values, index = 4-bit code: `get_4bit_type('fp4')`, i.e.
 * [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3] divided by 12 in float32.
 * Index 8 is negative zero, as torch keeps it.
 *
 * @example
 * ```ts
 * FP4_CODE[3] // 1: code 0b0011 is the largest magnitude, 12/12
 * ```
 */
export const FP4_CODE: Float32Array = Float32Array.from(
  [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3].map((v) => f(v / 12)),
);

/** The code book of a 4-bit type (a fresh copy, safe to keep in a QuantizedTensor). */
export function quantMapFor(quantType: QuantType): Float32Array {
  return (quantType === 'nf4' ? NF4_CODE : FP4_CODE).slice();
}

// dQuantizeNF4 thresholds: the float32 values nvcc makes of the CUDA source's literals (`x > 0.86...f`).
// Each is (near) the midpoint of two code values. Seven of the decimals are the shortest form of a
// double that lies exactly halfway between two floats; C rounds the decimal itself, which for four
// of them (n111, n110, n100, m000) is one ulp away from Math.fround of the double (ties to even).
// Real bitsandbytes (0.50, built for sm_90) uses the C values: fixtures/nf4-golden.json's
// 'nf4-thresholds' case. So those four are written as the float32 values themselves.
const N0 = f(0.03979014977812767);
const N1 = f(0.3893125355243683);
const N11 = f(0.6427869200706482);
const N111 = f(0.8614783883094788); // the literal 0.8614784181118011f
const N110 = f(0.5016633868217468); // the literal 0.5016634166240692f
const N10 = f(0.2035212516784668);
const N101 = f(0.2920137718319893);
const N100 = f(0.1202552542090416); // the literal 0.1202552504837513f
const M0 = f(-0.33967943489551544);
const M01 = f(-0.13791173323988914);
const M011 = f(-0.045525018125772476);
const M010 = f(-0.23460740596055984);
const M00 = f(-0.6106329262256622);
const M001 = f(-0.4599952697753906);
const M000 = f(-0.8480964303016663); // the literal -0.8480964004993439f

/**
 * bitsandbytes' `dQuantizeNF4` for one normalised value x (= value * (1/absmax) in float32).
 * NaN (a 0 * inf from an all-zero block) fails every comparison and lands on code 0, as on CUDA.
 *
 * @example
 * ```ts
 * nf4Code(0) // 7
 * nf4Code(1) // 15
 * ```
 */
export function nf4Code(x: number): number {
  if (x > N0) {
    if (x > N1) {
      if (x > N11) return x > N111 ? 0b1111 : 0b1110;
      return x > N110 ? 0b1101 : 0b1100;
    }
    if (x > N10) return x > N101 ? 0b1011 : 0b1010;
    return x > N100 ? 0b1001 : 0b1000;
  }
  if (x > M0) {
    if (x > M01) return x > M011 ? 0b0111 : 0b0110;
    return x > M010 ? 0b0101 : 0b0100;
  }
  if (x > M00) return x > M001 ? 0b0011 : 0b0010;
  return x > M000 ? 0b0001 : 0b0000;
}

// dQuantizeFP4 thresholds on |x|, float32 literals of the CUDA source.
const P0 = f(0.29166667);
const P1 = f(0.583333);
const P11 = f(0.8333333);
const P10 = f(0.4166667);
const Q0 = f(0.0859375);
const Q01 = f(0.20833333);
const Q00 = f(0.00260417);

/**
 * bitsandbytes' `dQuantizeFP4` for one normalised value: sign bit 0b1000 for x < 0 (so -0 and
 * NaN get the positive sign), then a tree on |x|.
 *
 * @example
 * ```ts
 * fp4Code(-1) // 0b1011
 * ```
 */
export function fp4Code(x: number): number {
  const sign = x < 0 ? 0b1000 : 0;
  const a = Math.abs(x);
  if (a > P0) {
    if (a > P1) return (a > P11 ? 0b0011 : 0b0010) + sign;
    return (a > P10 ? 0b0101 : 0b0100) + sign;
  }
  if (a > Q0) return (a > Q01 ? 0b0111 : 0b0110) + sign;
  return (a > Q00 ? 0b0001 : 0b0000) + sign;
}

/** The code picker of a 4-bit type. */
export function codeFunctionFor(quantType: QuantType): (x: number) => number {
  return quantType === 'nf4' ? nf4Code : fp4Code;
}
