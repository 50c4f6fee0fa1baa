/** Picking the next token from processed logits: argmax (greedy) or a seeded multinomial draw. */
import type { Rng } from '@q/core';
import { softmax } from './logits-processors';

/** Index of the largest logit; the first one on ties, as torch.argmax. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * Draws a token from softmax(logits) with one uniform number of `rng` (inverse CDF), so a seed
 * fixes the draw.
 *
 * @example
 * ```ts
 * sample(Float32Array.of(0, -Infinity, 0), new Rng(1)) // 0 or 2, never 1
 * ```
 */
export function sample(logits: Float32Array, rng: Rng): number {
  const p = softmax(logits);
  const u = rng.next();
  let cum = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    last = i;
    cum += p[i]!;
    if (u < cum) return i;
  }
  return last; // rounding left cum just below 1
}
