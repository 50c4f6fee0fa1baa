import { describe, expect, it } from 'vitest';
import { quantizeNF4 } from './quantize';
import { dequantizeAbsmax, dequantizeNF4 } from './dequantize';
import { createDynamicMap } from './dynamic-map';
import { NF4_CODE } from './codebooks';
import type { DoubleQuantizedTensor } from './quantized-tensor';
import { maxGap, normalData } from './test-reference';

const f = Math.fround;

function dq(data: Float32Array, blocksize = 64): DoubleQuantizedTensor {
  const q = quantizeNF4(data, { doubleQuant: true, blocksize });
  if (!q.doubleQuant) throw new Error('expected a double-quantized tensor');
  return q;
}

describe('double quantization', () => {
  it('shifts by the mean absmax and quantizes to the dynamic map (hand-checked)', () => {
    // Two blocks with absmax 1 and 2: offset 1.5, shifted [-0.5, 0.5], nested absmax 0.5,
    // normalised [-1, 1] -> dynamic-map indices [0, 255].
    const data = new Float32Array(128);
    data[0] = 1;
    data[64] = -2;
    const q = dq(data);
    expect(q.offset).toBe(1.5);
    expect(Array.from(q.absmax)).toEqual([0, 255]);
    expect(Array.from(q.nestedAbsmax)).toEqual([0.5]);
    expect(q.nestedBlocksize).toBe(256);
    expect(Array.from(q.nestedQuantMap)).toEqual(Array.from(createDynamicMap()));
    // absmax back: fround(fround(code * 0.5) + 1.5); code[0] = -0.992968738079071.
    const a0 = f(f(f(-0.992968738079071) * 0.5) + 1.5);
    expect(Array.from(dequantizeAbsmax(q))).toEqual([a0, 2]);
    const back = dequantizeNF4(q);
    expect(back[0]).toBe(f(1 * a0));
    expect(back[64]).toBe(-2);
    expect(back[1]).toBe(0); // NF4 code 7 is exactly 0
  });

  it('reproduces equal absmax values exactly (all shifted values are 0)', () => {
    const data = new Float32Array(64 * 10).fill(0.1);
    const q = dq(data);
    expect(q.offset).toBe(f(0.1));
    expect(Array.from(q.nestedAbsmax)).toEqual([0]);
    expect(dequantizeAbsmax(q).every((v) => v === f(0.1))).toBe(true);
    expect(dequantizeNF4(q).every((v) => v === f(0.1))).toBe(true);
  });

  it('keeps absmax within half a dynamic-map gap of the nested absmax on N(0, 1)', () => {
    const n = 64 * 300; // 300 blocks: two nested blocks, the second partial
    const data = normalData(n, 99);
    const plain = quantizeNF4(data);
    const q = dq(data);
    expect(q.absmax.length).toBe(300);
    expect(q.nestedAbsmax.length).toBe(2);
    expect(Array.from(q.packed)).toEqual(Array.from(plain.packed)); // codes do not depend on it
    const exact = plain.absmax as Float32Array;
    let mean = 0;
    for (const a of exact) mean += a / exact.length;
    expect(Math.abs(q.offset - mean)).toBeLessThan(1e-6);
    const back = dequantizeAbsmax(q);
    const half = maxGap(createDynamicMap()) / 2;
    for (let i = 0; i < 300; i++) {
      const nested = q.nestedAbsmax[Math.floor(i / 256)];
      expect(nested).toBe(Math.max(...Array.from(exact.subarray(Math.floor(i / 256) * 256, Math.min(300, Math.floor(i / 256) * 256 + 256)), (a) => Math.abs(f(a - q.offset)))));
      expect(Math.abs(back[i] - exact[i])).toBeLessThanOrEqual(half * nested + 1e-6);
    }
    // Error of the weights: NF4 bound on the reconstructed absmax plus the absmax error.
    const w = dequantizeNF4(q);
    const bound = maxGap(NF4_CODE) / 2;
    for (let i = 0; i < n; i++) {
      const b = i >> 6;
      expect(Math.abs(w[i] - data[i])).toBeLessThanOrEqual(bound * exact[b] + Math.abs(back[b] - exact[b]) + 1e-5);
    }
  });
});
