/**
 * Test-only float64 references, independent of the decision trees under test. Not exported from
 * the package index.
 */
import { Rng } from '@q/core';

/** Index of the code value nearest to x (float64), and the distance to the runner-up. */
export function nearestCode(code: ArrayLike<number>, x: number): { index: number; margin: number } {
  let best = 0;
  let bestD = Infinity;
  let second = Infinity;
  for (let k = 0; k < code.length; k++) {
    const d = Math.abs(x - code[k]);
    if (d < bestD) {
      second = bestD;
      bestD = d;
      best = k;
    } else if (d < second) second = d;
  }
  return { index: best, margin: second - bestD };
}

/** n seeded N(0, sigma) float32 values. */
export function normalData(n: number, seed: number, sigma = 1): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * sigma;
  return out;
}

/** The 4-bit code of element i of packed bytes (first element in the high nibble). */
export function nibble(packed: Uint8Array, i: number): number {
  return i & 1 ? packed[i >> 1] & 0xf : packed[i >> 1] >> 4;
}

/** Largest gap between neighbouring values of a sorted code. */
export function maxGap(code: ArrayLike<number>): number {
  const sorted = Array.from(code).sort((a, b) => a - b);
  let g = 0;
  for (let i = 1; i < sorted.length; i++) g = Math.max(g, sorted[i] - sorted[i - 1]);
  return g;
}
