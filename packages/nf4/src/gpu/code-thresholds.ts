/**
 * The NF4/FP4 decision trees of bitsandbytes as sorted thresholds, for GPU kernels.
 *
 * Both trees are binary searches over sorted thresholds with a strict `>`, so the code of x is
 * the number of thresholds below it (NF4), or, for FP4, a permutation of that count on |x| plus
 * a sign bit. The thresholds are found here by bisection over float32 values against the CPU's
 * own `nf4Code`/`fp4Code`, so the kernels cannot drift from the CPU quantizer's literals.
 */
import { FP4_CODE, NF4_CODE, fp4Code, nf4Code, type QuantType } from '../codebooks';

/** A 4-bit code picker in sorted-threshold form. */
export interface ThresholdTree {
  /** FP4: the code's 0b1000 bit is the sign of x (x < 0), the thresholds apply to |x|. */
  signed: boolean;
  /** Order keys (see {@link orderKey}) of the thresholds T_r, ascending; x > T_r adds one rank. */
  keys: number[];
  /** Code (without sign) of each rank 0..keys.length. */
  codeOfRank: number[];
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 bits of a number (rounded to float32). */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}
function fromBits(b: number): number {
  u32[0] = b >>> 0;
  return f32[0]!;
}

/** Unsigned key with key(x) > key(y) iff x > y for non-NaN float32 bits (-0 sorts below +0). */
export function orderKey(bits: number): number {
  return (bits >>> 31 ? ~bits : bits | 0x80000000) >>> 0;
}
function fromKey(k: number): number {
  return fromBits(k >>> 31 ? k & 0x7fffffff : ~k);
}

/** Largest key in [lo, hi) whose value has rank <= r, given rank(lo) <= r < rank(hi). */
function bisect(rank: (x: number) => number, r: number, lo: number, hi: number): number {
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (rank(fromKey(mid)) <= r) lo = mid;
    else hi = mid;
  }
  return lo;
}

const cache = new Map<QuantType, ThresholdTree>();

/**
 * The sorted-threshold form of a 4-bit type's decision tree.
 *
 * @example
 * ```ts
 * thresholdTree('nf4').keys.length // 15
 * ```
 */
export function thresholdTree(quantType: QuantType): ThresholdTree {
  let t = cache.get(quantType);
  if (t) return t;
  const negInf = orderKey(f32Bits(-Infinity));
  const zero = orderKey(0);
  const posInf = orderKey(f32Bits(Infinity));
  if (quantType === 'nf4') {
    // NF4 codes are already sorted by value, so rank = code.
    const codeOfRank = [...NF4_CODE.keys()];
    const keys = codeOfRank.slice(0, -1).map((r) => bisect(nf4Code, r, negInf, posInf));
    t = { signed: false, keys, codeOfRank };
  } else {
    // FP4 magnitudes 0..7 sorted by value: [0, 1, 6, 7, 4, 5, 2, 3].
    const codeOfRank = [0, 1, 2, 3, 4, 5, 6, 7].sort((a, b) => FP4_CODE[a]! - FP4_CODE[b]!);
    const rankOf = (x: number) => codeOfRank.indexOf(fp4Code(x) & 7);
    const keys = codeOfRank.slice(0, -1).map((_, r) => bisect(rankOf, r, zero, posInf));
    t = { signed: true, keys, codeOfRank };
  }
  cache.set(quantType, t);
  return t;
}

/** The code a {@link ThresholdTree} gives to float32 bits, as the quantize kernel computes it. */
export function codeFromTree(t: ThresholdTree, bits: number): number {
  const isNaN = (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;
  if (isNaN) return 0;
  const mag = t.signed ? bits & 0x7fffffff : bits;
  const k = orderKey(mag);
  let r = 0;
  for (const key of t.keys) if (k > key) r++;
  const sign = t.signed && bits >>> 31 && mag !== 0 ? 8 : 0;
  return t.codeOfRank[r]! | sign;
}

/** WGSL `fn code4(x: u32) -> u32` for a tree (x: the f32 bits of value * (1/absmax)). */
export function codeFunctionWgsl(t: ThresholdTree): string {
  const hex = (k: number) => `0x${k.toString(16)}u`;
  const rank = t.keys.map((k) => `select(0u, 1u, k > ${hex(k)})`).join(' +\n    ');
  const codes = `array<u32, ${t.codeOfRank.length}>(${t.codeOfRank.map((c) => `${c}u`).join(', ')})`;
  return `
fn code4(x: u32) -> u32 {
  // NaN (0 * inf from an all-zero block) fails every comparison on CUDA: code 0.
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0u) { return 0u; }
  let mag = ${t.signed ? 'x & 0x7fffffffu' : 'x'};
  let k = fx_key(mag);
  let r = ${rank};
  ${t.signed ? `let sign = select(0u, 8u, (x >> 31u) == 1u && mag != 0u);\n  var codes = ${codes};\n  return codes[r] | sign;` : 'return r;'}
}`;
}
