import { describe, expect, it } from 'vitest';
import { createDynamicMap, linspaceF32 } from './dynamic-map';
import { dequantizeBlockwise8bit, quantize8bitValue, quantizeBlockwise8bit } from './blockwise-8bit';
import { maxGap, nearestCode } from './test-reference';

const f = Math.fround;

describe('linspaceF32', () => {
  it('rounds start + step * i once (FMA), as x86 torch builds do', () => {
    // step = fround(fround(1 - fround(0.1)) / 8) = 0.11249999701976776;
    // fround(0.10000000149011612 + 3 * step) = fround(0.43749999254941940) = 0.4375, whereas two
    // roundings give 0.4374999701976776.
    expect(linspaceF32(0.1, 1, 9)[3]).toBe(0.4375);
    expect(Array.from(linspaceF32(0.1, 1, 2))).toEqual([f(0.1), 1]);
    expect(linspaceF32(0.1, 1, 65)[64]).toBe(1);
  });
});

describe('createDynamicMap', () => {
  const map = createDynamicMap();

  it('is 256 sorted distinct float32 values from -0.99296875 to 1 with 0 at index 127', () => {
    expect(map.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(map[i]).toBeGreaterThan(map[i - 1]);
    expect(map[127]).toBe(0);
    expect(map[255]).toBe(1);
    // Largest negative: -(mean of the last two of linspace(0.1, 1, 65)) = -(0.9859375 + 1) / 2.
    expect(map[0]).toBe(f(-0.992968738079071));
    for (let i = 0; i < 127; i++) expect(map[i]).toBe(-map[254 - i]);
  });

  it('builds the smallest entry from linspace(0.1, 1, 2) scaled by float32(1e-6)', () => {
    expect(map[128]).toBe(f(f(1e-6) * f(f(f(0.1) + 1) / 2)));
    expect(map[128]).toBe(f(5.500000384017767e-7));
  });

  it('matches torch in the entries where FMA rounding matters', () => {
    // Values read from a torch dump of create_dynamic_map(); two separate roundings give
    // -0.711718738079071 and -0.5148437023162842 for these two.
    expect(map[20]).toBe(f(-0.7117187976837158));
    expect(map[34]).toBe(f(-0.5148437023162842));
  });
});

describe('quantize8bitValue (bitsandbytes dQuantize)', () => {
  const map = createDynamicMap();

  it('maps the ends, zero and NaN as the CUDA search does', () => {
    expect(quantize8bitValue(map, 1)).toBe(255);
    expect(quantize8bitValue(map, -1)).toBe(0);
    expect(quantize8bitValue(map, 0)).toBe(127);
    expect(quantize8bitValue(map, NaN)).toBe(0);
    expect(quantize8bitValue(map, map[200])).toBe(200);
  });

  it('picks the nearest entry away from midpoints', () => {
    for (let i = 0; i <= 50000; i++) {
      const x = f(-1 + (2 * i) / 50000);
      const ref = nearestCode(map, x);
      if (ref.margin > 1e-7) expect(quantize8bitValue(map, x)).toBe(ref.index);
    }
  });

  it('round-trips blockwise within half the largest gap times the block absmax', () => {
    const values = Float32Array.from({ length: 600 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
    const { codes, absmax } = quantizeBlockwise8bit(values, map, 256);
    expect(absmax.length).toBe(3);
    const back = dequantizeBlockwise8bit(codes, absmax, map, 256);
    const bound = maxGap(map) / 2;
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(bound * absmax[Math.floor(i / 256)] + 1e-6);
    }
  });
});
