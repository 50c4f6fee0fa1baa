import { describe, expect, it } from 'vitest';
import { roundToBfloat16, roundToFloat16 } from './origin-dtype';
import { quantizeNF4 } from './quantize';
import { dequantizeNF4 } from './dequantize';
import { NF4_CODE } from './codebooks';

describe('origin dtype rounding', () => {
  it('rounds to bfloat16 with ties to even', () => {
    expect(roundToBfloat16(1 + 2 ** -8)).toBe(1); // tie, even mantissa is 1.0
    expect(roundToBfloat16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6); // tie, round up to even
    expect(roundToBfloat16(1 + 2 ** -8 + 2 ** -20)).toBe(1 + 2 ** -7);
    expect(roundToBfloat16(-3.14159)).toBe(-3.140625);
  });

  it('rounds to float16 with ties to even, subnormals and overflow', () => {
    expect(roundToFloat16(65504)).toBe(65504);
    expect(roundToFloat16(65519)).toBe(65504);
    expect(roundToFloat16(65520)).toBe(Infinity);
    expect(roundToFloat16(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(roundToFloat16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundToFloat16(1 + 2 ** -11)).toBe(1);
    expect(roundToFloat16(-0.1)).toBe(-0.0999755859375);
  });

  it('quantizes the rounded values and dequantizes back to the origin dtype', () => {
    const q = quantizeNF4(Float32Array.of(3.14159, 1), { dtype: 'bfloat16' });
    expect(q.absmax[0]).toBe(3.140625);
    expect(q.dtype).toBe('bfloat16');
    const back = dequantizeNF4(q);
    expect(back[0]).toBe(3.140625);
    expect(back[1]).toBe(roundToBfloat16(Math.fround(NF4_CODE[11] * 3.140625)));
  });
});
