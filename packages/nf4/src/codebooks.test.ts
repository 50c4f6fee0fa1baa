import { describe, expect, it } from 'vitest';
import { FP4_CODE, NF4_CODE, fp4Code, nf4Code } from './codebooks';
import { nearestCode } from './test-reference';

const f = Math.fround;

/** An exact rational: num / den, from a decimal string or a (float32-valued) double. */
function rational(x: string | number): [bigint, bigint] {
  if (typeof x === 'number') {
    // A float32 value is an integer times a power of two; scale by 2^160 to make it an integer.
    const scaled = BigInt(Math.round(Math.abs(x) * 2 ** 60)) * 2n ** 100n;
    return [x < 0 ? -scaled : scaled, 2n ** 160n];
  }
  const [int, frac = ''] = x.replace('-', '').split('.');
  const num = BigInt(int + frac);
  return [x.startsWith('-') ? -num : num, 10n ** BigInt(frac.length)];
}
const absDiff = ([a, b]: [bigint, bigint], [c, d]: [bigint, bigint]) => {
  const n = a * d - c * b;
  return [n < 0n ? -n : n, b * d] as [bigint, bigint];
};
const less = ([a, b]: [bigint, bigint], [c, d]: [bigint, bigint]) => a * d < c * b;
/** What a C compiler makes of the literal `<s>f`: the float32 nearest to the decimal itself. */
function cFloatLiteral(s: string): number {
  const d = rational(s);
  const near = f(Number(s));
  const cands = [down(near), near, up(near)];
  return cands.reduce((best, c) => (less(absDiff(rational(c), d), absDiff(rational(best), d)) ? c : best));
}
const down = (x: number) => -up(-x);
const up = (x: number) => {
  // next float32 above x
  const b = new Float32Array([x]);
  const u = new Int32Array(b.buffer);
  u[0] += x >= 0 ? 1 : -1;
  return b[0];
};

describe('NF4 code book', () => {
  it('holds the 16 values of bitsandbytes get_4bit_type("nf4") in float32', () => {
    expect(Array.from(NF4_CODE)).toEqual([
      -1, f(-0.6961928009986877), f(-0.5250730514526367), f(-0.39491748809814453), f(-0.28444138169288635),
      f(-0.18477343022823334), f(-0.09105003625154495), 0, f(0.07958029955625534), f(0.16093020141124725),
      f(0.24611230194568634), f(0.33791524171829224), f(0.44070982933044434), f(0.5626170039176941),
      f(0.7229568362236023), 1,
    ]);
  });

  // Thresholds copied from csrc/kernels.cu dQuantizeNF4, with the codes on either side.
  const thresholds: [number, number, number][] = [
    [-0.8480964004993439, 0, 1], [-0.6106329262256622, 1, 2], [-0.4599952697753906, 2, 3],
    [-0.33967943489551544, 3, 4], [-0.23460740596055984, 4, 5], [-0.13791173323988914, 5, 6],
    [-0.045525018125772476, 6, 7], [0.03979014977812767, 7, 8], [0.1202552504837513, 8, 9],
    [0.2035212516784668, 9, 10], [0.2920137718319893, 10, 11], [0.3893125355243683, 11, 12],
    [0.5016634166240692, 12, 13], [0.6427869200706482, 13, 14], [0.8614784181118011, 14, 15],
  ];

  // The threshold is what nvcc makes of the literal `<t>f`: the decimal rounded to float32 directly.
  // For four literals that is one ulp from Math.fround of the double (which lies exactly between two
  // floats and rounds to even); bitsandbytes on CUDA uses the former (fixtures/nf4-golden.json).
  it.each(thresholds)('a value exactly on threshold %f takes the lower code, one ulp above the upper', (t, lo, hi) => {
    const c = cFloatLiteral(String(t));
    expect(nf4Code(c)).toBe(lo);
    expect(nf4Code(up(c))).toBe(hi);
    // Each threshold is the midpoint of its two codes (to float32 precision).
    expect(Math.abs(c - (NF4_CODE[lo] + NF4_CODE[hi]) / 2)).toBeLessThan(1e-7);
  });

  it('the C rounding of a literal differs from Math.fround exactly for n111, n110, n100 and m000', () => {
    const differs = thresholds.filter(([t]) => cFloatLiteral(String(t)) !== f(t)).map(([t]) => t);
    expect(differs).toEqual([-0.8480964004993439, 0.1202552504837513, 0.5016634166240692, 0.8614784181118011]);
    expect(cFloatLiteral('0.8614784181118011')).toBe(f(0.8614783883094788));
  });

  it('picks hand-checked codes', () => {
    expect([1, 0.5, -1, 0, 0.25, -0.3, -0].map(nf4Code)).toEqual([15, 12, 0, 7, 10, 4, 7]);
  });

  it('maps NaN (0 * inf of an all-zero block) to code 0, as the CUDA tree does', () => {
    expect(nf4Code(NaN)).toBe(0);
  });

  it('agrees with the float64 nearest code away from ties', () => {
    for (let i = 0; i <= 20000; i++) {
      const x = -1.05 + (2.1 * i) / 20000;
      const ref = nearestCode(NF4_CODE, x);
      if (ref.margin > 1e-6) expect(nf4Code(f(x))).toBe(ref.index);
    }
  });
});

describe('FP4 code book', () => {
  it('is [0, 0.0625, 8, 12, 4, 6, 2, 3] / 12 and its negatives, with -0 at code 8', () => {
    const expected = [0, 0.0625, 8, 12, 4, 6, 2, 3].map((v) => f(v / 12));
    expect(Array.from(FP4_CODE.slice(0, 8))).toEqual(expected);
    expect(Array.from(FP4_CODE.slice(8))).toEqual(expected.map((v) => -v));
    expect(Object.is(FP4_CODE[8], -0)).toBe(true);
    // dDequantizeFP4Tree's literals are the same float32 values.
    expect([f(0.16666667), f(0.33333333), f(0.66666667), f(5.208333333e-3)]).toEqual([FP4_CODE[6], FP4_CODE[4], FP4_CODE[2], FP4_CODE[1]]);
  });

  it('puts ties on the lower magnitude and uses the sign bit for x < 0 only', () => {
    expect(fp4Code(f(0.29166667))).toBe(0b0111); // between 3/12 (0b0111) and 4/12 (0b0100)
    expect(fp4Code(up(f(0.29166667)))).toBe(0b0100);
    expect(fp4Code(f(-0.8333333))).toBe(0b1010);
    expect(fp4Code(-1)).toBe(0b1011);
    expect(fp4Code(-0)).toBe(0);
    expect(fp4Code(NaN)).toBe(0);
    expect([1, 0.5, 0.25, 0.003, 0.002].map(fp4Code)).toEqual([3, 5, 7, 1, 0]);
  });

  it('agrees with the float64 nearest code away from ties', () => {
    for (let i = 0; i <= 20000; i++) {
      const x = -1.05 + (2.1 * i) / 20000;
      const ref = nearestCode(FP4_CODE, x);
      // FP4 has +0 and -0: either is right for values nearest zero.
      if (ref.margin > 1e-6) expect(FP4_CODE[fp4Code(f(x))]).toBe(FP4_CODE[ref.index]);
    }
  });
});
