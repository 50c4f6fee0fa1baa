import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError, ValueError } from '@q/core';
import { quantizeNF4 } from './quantize';
import { dequantizeNF4 } from './dequantize';
import { FP4_CODE, NF4_CODE } from './codebooks';
import { BLOCKSIZES } from './quantized-tensor';
import { bitsPerParameter, packedU32View } from './packed-view';
import { maxGap, nearestCode, nibble, normalData } from './test-reference';

const f = Math.fround;
const F = (...v: number[]) => Float32Array.from(v);

describe('quantizeNF4: hand-checked vectors', () => {
  it('packs the first element in the high nibble', () => {
    // absmax 1, so x = v: 0.5 -> 12, -1 -> 0, 0.25 -> 10, 0 -> 7.
    const q = quantizeNF4(F(0.5, -1, 0.25, 0));
    expect(Array.from(q.packed)).toEqual([0xc0, 0xa7]);
    expect(Array.from(q.absmax)).toEqual([1]);
    expect(Array.from(dequantizeNF4(q))).toEqual([NF4_CODE[12], -1, NF4_CODE[10], 0]);
  });

  it('pairs an odd last element with a padding zero (NF4 code 7, FP4 code 0)', () => {
    expect(Array.from(quantizeNF4(F(1, 0.5, 0.25)).packed)).toEqual([0xfc, 0xa7]);
    const fp4 = quantizeNF4(F(1, 0.5, 0.25), { quantType: 'fp4' });
    expect(Array.from(fp4.packed)).toEqual([0x35, 0x70]);
    expect(Array.from(dequantizeNF4(fp4))).toEqual([1, 0.5, 0.25]);
  });

  it('scales by the float32 reciprocal of absmax, not a division', () => {
    // absmax 3: x = 0.3 * fround(1/3) = fround(0.3 * 0.3333333432674408) = 0.1000000...
    const q = quantizeNF4(F(3, 0.3));
    expect(nibble(q.packed, 1)).toBe(8); // 0.1 is between 0.0398 and 0.1203
    expect(dequantizeNF4(q)[1]).toBe(f(NF4_CODE[8] * 3));
  });

  it('stores an all-zero block as code 0 (NaN from 0 * inf) and dequantizes it to -0', () => {
    const q = quantizeNF4(new Float32Array(64));
    expect(q.absmax[0]).toBe(0);
    expect(q.packed.every((b) => b === 0)).toBe(true);
    expect(Array.from(dequantizeNF4(q)).every((v) => Object.is(v, -0))).toBe(true);
    const fp4 = quantizeNF4(new Float32Array(64), { quantType: 'fp4' });
    expect(Array.from(dequantizeNF4(fp4)).every((v) => Object.is(v, 0))).toBe(true);
  });

  it('maps a constant block to the end codes and back exactly', () => {
    const q = quantizeNF4(new Float32Array(64).fill(0.3));
    expect(q.packed.every((b) => b === 0xff)).toBe(true);
    expect(dequantizeNF4(q).every((v) => v === f(0.3))).toBe(true);
    const neg = quantizeNF4(new Float32Array(64).fill(-0.3));
    expect(neg.packed.every((b) => b === 0x00)).toBe(true);
    expect(dequantizeNF4(neg).every((v) => v === f(-0.3))).toBe(true);
  });

  it('gives the same codes at 1e30 and 1e-30 magnitudes', () => {
    const base = [1, -0.5, 0.25, 0.1, -0.05, 0];
    const big = quantizeNF4(Float32Array.from(base, (v) => v * 1e30));
    const tiny = quantizeNF4(Float32Array.from(base, (v) => v * 1e-30));
    const unit = quantizeNF4(Float32Array.from(base));
    expect(Array.from(big.packed)).toEqual(Array.from(unit.packed));
    expect(Array.from(tiny.packed)).toEqual(Array.from(unit.packed));
    // -0.5 -> code 2 (-0.5251), 0.1 -> 8, -0.05 -> 6.
    expect([0, 1, 2, 3, 4, 5].map((i) => nibble(unit.packed, i))).toEqual([15, 2, 10, 8, 6, 7]);
    const back = dequantizeNF4(big);
    expect(back[1]).toBe(f(NF4_CODE[2] * f(1e30)));
    expect(Math.abs(dequantizeNF4(tiny)[0] - f(1e-30))).toBe(0);
  });
});

describe('quantizeNF4: every blocksize, partial blocks', () => {
  it.each(BLOCKSIZES.map((b) => [b]))('blocksize %i matches a float64 nearest-code reference', (bs) => {
    const n = 3 * bs + 5;
    const data = normalData(n, bs);
    for (const quantType of ['nf4', 'fp4'] as const) {
      const code = quantType === 'nf4' ? NF4_CODE : FP4_CODE;
      const q = quantizeNF4(data, { blocksize: bs, quantType });
      expect(q.absmax.length).toBe(4);
      expect(q.packed.length).toBe(Math.ceil(n / 2));
      const back = dequantizeNF4(q);
      const bound = maxGap(code) / 2;
      for (let b = 0; b < 4; b++) {
        const block = Array.from(data.subarray(b * bs, Math.min(n, (b + 1) * bs)));
        const absmax = Math.max(...block.map(Math.abs));
        expect(q.absmax[b]).toBe(absmax);
        block.forEach((v, j) => {
          const i = b * bs + j;
          const ref = nearestCode(code, v / absmax);
          if (ref.margin > 1e-5) expect(code[nibble(q.packed, i)]).toBe(code[ref.index]);
          expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(bound * absmax * (1 + 1e-6));
        });
      }
    }
  });
});

describe('quantizeNF4: round-trip error on N(0, 1)', () => {
  const n = 64 * 1024;
  const data = normalData(n, 1234);
  const q = quantizeNF4(data);
  const back = dequantizeNF4(q);

  it('stays within half the largest NF4 gap times absmax per element, mean |err| in range', () => {
    const bound = maxGap(NF4_CODE) / 2; // the widest bin is [-1, -0.6961928]: (1 - 0.6961928) / 2
    expect(bound).toBeCloseTo(0.1519036, 6);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const err = Math.abs(back[i] - data[i]);
      expect(err).toBeLessThanOrEqual(bound * q.absmax[i >> 6] * (1 + 1e-6));
      sum += err;
    }
    // E[absmax of 64 N(0,1)] ~ 2.4 and the mean NF4 bin is ~2/15 wide, so the mean error is about
    // 2.4 * (2/15) / 4 = 0.08; the bins are narrower where the density is high, so a bit less.
    const mae = sum / n;
    expect(mae).toBeGreaterThan(0.05);
    expect(mae).toBeLessThan(0.09);
  });

  it('costs 4.5 bits per parameter at blocksize 64', () => {
    expect(bitsPerParameter(q)).toBe(4 + 32 / 64);
    expect(bitsPerParameter(quantizeNF4(data, { doubleQuant: true }))).toBe(4 + 8 / 64 + 32 / (64 * 256));
  });
});

describe('quantizeNF4: bad input', () => {
  it('names the first NaN/Inf index', () => {
    const d = F(0, 1, 2, 3, 4, NaN, Infinity, 7);
    expect(() => quantizeNF4(d)).toThrow(ValueError);
    expect(() => quantizeNF4(d)).toThrow(/element 5 is NaN/);
    expect(() => quantizeNF4(d, { shape: [2, 4] })).toThrow(/element 5 \(index \[1, 1\] of shape \[2, 4\]\) is NaN/);
    expect(() => quantizeNF4(F(1, -Infinity))).toThrow(/element 1 is -Infinity/);
  });

  it('rejects bad options with a ConfigError naming the field and allowed values', () => {
    expect(() => quantizeNF4(F(1, 2), { blocksize: 48 })).toThrow(ConfigError);
    expect(() => quantizeNF4(F(1, 2), { blocksize: 48 })).toThrow(/"blocksize".*32, 64, 128, 256, 512, 1024, 2048, 4096/);
    expect(() => quantizeNF4(F(1, 2), { quantType: 'int4' as never })).toThrow(/"quantType".*'nf4' or 'fp4'/);
    expect(() => quantizeNF4(F(1, 2), { dtype: 'float64' as never })).toThrow(/"dtype"/);
  });

  it('rejects a shape that does not match, an empty tensor, and non-Float32Array data', () => {
    expect(() => quantizeNF4(F(1, 2, 3), { shape: [2, 2] })).toThrow(ShapeError);
    expect(() => quantizeNF4(new Float32Array(0))).toThrow(ShapeError);
    expect(() => quantizeNF4([1, 2] as never)).toThrow(ValueError);
  });

  it('rejects values that overflow the origin dtype', () => {
    expect(() => quantizeNF4(F(1, 70000), { dtype: 'float16' })).toThrow(/element 1 = 70000 overflows float16/);
  });
});

describe('packedU32View', () => {
  it('packs bytes little-endian and pads to a whole word', () => {
    expect(Array.from(packedU32View({ packed: Uint8Array.of(1, 2, 3, 4, 5) }))).toEqual([0x04030201, 0x05]);
  });

  it('exposes element i at word i>>3, shift ((i>>1)&3)*8 + (i&1 ? 0 : 4)', () => {
    const q = quantizeNF4(normalData(77, 5));
    const words = packedU32View(q);
    for (let i = 0; i < 77; i++) {
      const shift = ((i >> 1) & 3) * 8 + (i & 1 ? 0 : 4);
      expect((words[i >> 3] >>> shift) & 0xf).toBe(nibble(q.packed, i));
    }
  });
});
