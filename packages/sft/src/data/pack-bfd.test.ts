import { describe, expect, it } from 'vitest';
import { collate, packBfd } from './collate';

const ex = (n: number, start: number) => ({ inputIds: Array.from({ length: n }, (_, i) => start + i), labels: Array.from({ length: n }, (_, i) => start + i) });

describe('packBfd (trl packing_strategy="bfd")', () => {
  it('best-fit decreasing: longest first, each into the fullest block it fits; positions restart per example', () => {
    // Lengths 6, 5, 4, 3, 2 into blocks of 8: 6 -> A(2 left), 5 -> B(3 left), 4 -> C(4 left),
    // 3 -> B (fullest that fits), 2 -> A.
    const packed = packBfd([ex(3, 100), ex(6, 200), ex(2, 300), ex(5, 400), ex(4, 500)], 8);
    expect(packed.map((p) => p.inputIds)).toEqual([
      [200, 201, 202, 203, 204, 205, 300, 301],
      [400, 401, 402, 403, 404, 100, 101, 102],
      [500, 501, 502, 503],
    ]);
    expect(packed[1]!.positionIds).toEqual([0, 1, 2, 3, 4, 0, 1, 2]);
  });
  it('truncates examples longer than a block', () => {
    expect(packBfd([ex(10, 0)], 4)[0]!.inputIds).toEqual([0, 1, 2, 3]);
  });
  it('collate passes position ids and counts no item at a sample start', () => {
    const b = collate(packBfd([ex(3, 10), ex(2, 20), ex(4, 30)], 5), 0);
    // Blocks: [30..33] (pad 1) and [10,11,12,20,21]: items = 3 + (2 + 1) = 6 (not 3 + 4).
    expect(b.positionIds).toEqual([
      [0, 1, 2, 3, 0],
      [0, 1, 2, 0, 1],
    ]);
    expect(b.numItems).toBe(6);
    expect(collate([ex(3, 1)], 0).positionIds).toBeUndefined();
  });
});
