// Host-side batch preparation against integer expectations written by hand from transformers'
// rules: position_ids = cumsum(attention_mask) − 1 with padding set to 1, labels shifted by one,
// no loss at padding positions, and positions continuing from a cache.
import { describe, expect, it } from 'vitest';
import { prepareBatch } from '../src/modules/batch';

describe('prepareBatch', () => {
  it('left and right padding: positions count real tokens only', () => {
    const b = prepareBatch(
      {
        inputIds: [
          [0, 0, 5, 6, 7],
          [8, 9, 10, 0, 0],
          [1, 2, 3, 4, 5],
        ],
        attentionMask: [
          [0, 0, 1, 1, 1],
          [1, 1, 1, 0, 0],
          [1, 1, 1, 1, 1],
        ],
      },
      20,
      0,
    );
    expect(Array.from(b.positions)).toEqual([1, 1, 0, 1, 2, 0, 1, 2, 1, 1, 0, 1, 2, 3, 4]);
    expect(Array.from(b.mask!)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    expect(b.maskLen).toBe(5);
  });

  it('no padding: positions 0..T-1 and no mask', () => {
    const b = prepareBatch({ inputIds: [[3, 4, 5, 6]] }, 10, 0);
    expect(Array.from(b.positions)).toEqual([0, 1, 2, 3]);
    expect(b.mask).toBeUndefined();
  });

  it('labels are shifted left by one, with no loss predicted from padding', () => {
    const b = prepareBatch(
      {
        inputIds: [
          [0, 5, 6, 7],
          [8, 9, 0, 0],
        ],
        attentionMask: [
          [0, 1, 1, 1],
          [1, 1, 0, 0],
        ],
        labels: [
          [-100, 5, 6, 7],
          [-100, 9, -100, -100],
        ],
      },
      10,
      0,
    );
    // Row 0: position 0 is padding, so the label 5 it would predict is dropped.
    expect(Array.from(b.labels!)).toEqual([-100, 6, 7, -100, 9, -100, -100, -100]);
  });

  it('decoding continues positions from the cached prefix, padding included', () => {
    const cache = {};
    const first = prepareBatch({ inputIds: [[0, 4, 5]], attentionMask: [[0, 1, 1]], cache }, 10, 0, 8);
    expect(Array.from(first.positions)).toEqual([1, 0, 1]);
    const next = prepareBatch({ inputIds: [[6]], attentionMask: [[1]], cache }, 10, 3, 8);
    expect(Array.from(next.positions)).toEqual([2]);
    expect(Array.from(next.mask!)).toEqual([0, 1, 1, 1, 0, 0, 0, 0]);
  });
});
