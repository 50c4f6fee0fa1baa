/**
 * The synthetic task: continue a repeating byte pattern. Token ids are the bytes of a few fixed
 * strings (vocabulary 256), so the page needs no tokenizer.
 */
import { Rng } from '@q/core';

/** Each training row is a window of one of these, repeated. */
export const PATTERNS = ['hello world! ', 'abcdefg ', '0123456789 ', 'WebGPU+LoRA '];

const encoder = new TextEncoder();

/** Bytes of `text` repeated from `offset`, `length` tokens long. */
export function repeatBytes(text: string, offset: number, length: number): number[] {
  const b = encoder.encode(text);
  return Array.from({ length }, (_, i) => b[(offset + i) % b.length]!);
}

/**
 * One batch: every pattern once, each from a random offset, so the model sees every phase.
 * inputIds: [B, T] with B = PATTERNS.length; the labels are the inputs (the model shifts them).
 */
export function makeBatch(rng: Rng, T: number): number[][] {
  return PATTERNS.map((p) => repeatBytes(p, Math.floor(rng.next() * p.length), T));
}

/** Printable ASCII as is, other bytes as '·'. */
export function showBytes(ids: ArrayLike<number>): string {
  return Array.from(ids, (c) => (c >= 32 && c < 127 ? String.fromCharCode(c) : '·')).join('');
}
