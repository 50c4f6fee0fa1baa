import { describe, expect, it } from 'vitest';
import {
  bf16ToF32,
  f16BitsToF32,
  f16ToF32,
  f32Bits,
  f32ToBf16,
  f32ToF16,
} from './dtype-codecs';

const h = (xs: number[]) => Array.from(f32ToF16(new Float32Array(xs)));
const b = (xs: number[]) => Array.from(f32ToBf16(new Float32Array(xs)));

describe('f32 → f16', () => {
  it('encodes hand-derived edge values', () => {
    expect(h([1, -2, 0, -0, 0.1, 1 / 3])).toEqual([0x3c00, 0xc000, 0, 0x8000, 0x2e66, 0x3555]);
    // 65504 is the largest f16; 65520 is the midpoint to 65536 and ties to even = Inf.
    expect(h([65504, 65519, 65520, 1e6, -Infinity])).toEqual([0x7bff, 0x7bff, 0x7c00, 0x7c00, 0xfc00]);
    // Ties to even in the normal range: 1+2^-11 → 1, 1+3·2^-11 → 1+2^-9.
    expect(h([1 + 2 ** -11, 1 + 3 * 2 ** -11])).toEqual([0x3c00, 0x3c02]);
    // Subnormals: 2^-24 is the smallest; 2^-25 ties to 0; 3·2^-25 ties to 2 (even).
    expect(h([2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 3 * 2 ** -25])).toEqual([1, 0, 1, 2]);
    expect(h([2 ** -14 - 2 ** -24, 2 ** -14, -(2 ** -24)])).toEqual([0x03ff, 0x0400, 0x8001]);
    // Just below the smallest normal rounds up into it.
    expect(h([2 ** -14 - 2 ** -26])).toEqual([0x0400]);
  });

  it('keeps NaN a NaN, with its sign', () => {
    const out = h([NaN, -NaN]);
    expect(out[0] & 0x7c00).toBe(0x7c00);
    expect(out[0] & 0x3ff).not.toBe(0);
    expect(f16BitsToF32(out[0])).toBeNaN();
  });

  it('round-trips all 63488 non-NaN f16 values bit for bit', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (!isNaN && back[i] !== i) throw new Error(`f16 0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
    }
  });

  it('picks the nearest f16 for random floats (float64 reference)', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const xs = new Float32Array(5000).map(() => (rnd() - 0.5) * 2 ** (rnd() * 40 - 26));
    const hs = f32ToF16(xs);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const err = Math.abs(x - f16BitsToF32(hs[i]));
      for (const n of [hs[i] - 1, hs[i] + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || (n & 0x8000) !== (hs[i] & 0x8000)) continue;
        expect(err).toBeLessThanOrEqual(Math.abs(x - f16BitsToF32(n)));
      }
    }
  });
});

describe('f16 → f32', () => {
  it('decodes specials and subnormals', () => {
    expect(Array.from(f16ToF32(new Uint16Array([0x3c00, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00])))).toEqual([
      1, 65504, 2 ** -24, -0, Infinity, -Infinity,
    ]);
    expect(f16ToF32(new Uint16Array([0x7e00]))[0]).toBeNaN();
  });
});

describe('f32 ↔ bf16 (PyTorch rounding)', () => {
  it('encodes hand-derived edge values', () => {
    // pi = 0x40490FDB: dropped half 0x0FDB < 0x8000 → 0x4049.
    expect(b([1, Math.PI, -0, 0])).toEqual([0x3f80, 0x4049, 0x8000, 0]);
    // 1+2^-8 = 0x3F808000 ties to even 0x3F80; 1+3·2^-8 = 0x3F818000 ties to 0x3F82.
    expect(b([1 + 2 ** -8, 1 + 3 * 2 ** -8])).toEqual([0x3f80, 0x3f82]);
    // Largest f32 rounds up to Inf, as torch does.
    expect(b([3.4028234663852886e38, Infinity, -Infinity])).toEqual([0x7f80, 0x7f80, 0xff80]);
    // f32 subnormal 1e-40 = 0x000116C2 → 0x0001.
    expect(f32Bits(1e-40)).toBe(0x000116c2);
    expect(b([1e-40])).toEqual([0x0001]);
    // torch maps every NaN, either sign, to 0x7FC0.
    expect(b([NaN, -NaN])).toEqual([0x7fc0, 0x7fc0]);
  });

  it('decodes by shifting into the top half', () => {
    expect(Array.from(bf16ToF32(new Uint16Array([0x3f80, 0x4049, 0xff80, 0x0001])))).toEqual([
      1, 3.140625, -Infinity, 2 ** -133,
    ]);
  });

  it('round-trips every non-NaN bf16 value', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToBf16(bf16ToF32(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (!isNaN && back[i] !== i) throw new Error(`bf16 0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
    }
  });
});
