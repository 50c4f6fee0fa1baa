import { describe, expect, it } from 'vitest';
import { fp4Code, nf4Code } from '../codebooks';
import { codeFromTree, f32Bits, thresholdTree } from './code-thresholds';

const fromBits = (b: number) => new Float32Array(new Uint32Array([b >>> 0]).buffer)[0]!;

describe('thresholdTree', () => {
  for (const [qt, codeOf] of [['nf4', nf4Code], ['fp4', fp4Code]] as const) {
    it(`${qt}: sorted thresholds give the CPU decision tree's code, at and around every threshold`, () => {
      const t = thresholdTree(qt);
      expect(t.keys.length).toBe(t.codeOfRank.length - 1);
      expect([...t.keys].sort((a, b) => a - b)).toEqual(t.keys);
      const xs: number[] = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-45, -1e-45, 0.5, -0.5];
      for (const k of t.keys) {
        const b = k >>> 31 ? k & 0x7fffffff : ~k >>> 0; // threshold bits
        for (const d of [-2, -1, 0, 1, 2]) xs.push(fromBits(b + d), -fromBits(b + d));
      }
      for (let i = 0; i < 20000; i++) xs.push(Math.fround(Math.sin(i * 12.9898) * 1.2));
      for (const x of xs) expect(codeFromTree(t, f32Bits(x)), `x = ${x}`).toBe(codeOf(Math.fround(x)));
    });
  }
});
