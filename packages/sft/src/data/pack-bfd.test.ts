import { describe, expect, it } from 'vitest';
import { collate } from './collate';
import { PACK_CHUNK, packBfd } from './pack-bfd';

const ex = (n: number, start: number) => ({ inputIds: Array.from({ length: n }, (_, i) => start + i), labels: Array.from({ length: n }, (_, i) => start + i) });
/** Each example's first id, per block: which examples went where, in order. */
const heads = (packed: { inputIds: number[]; positionIds?: number[] }[]) => packed.map((p) => p.inputIds.filter((_, t) => p.positionIds![t] === 0));

describe('packBfd (trl pack_dataset(strategy="bfd"))', () => {
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

  it('equal lengths keep the dataset order (stable sort)', () => {
    expect(heads(packBfd([ex(2, 10), ex(3, 20), ex(2, 30), ex(3, 40)], 5))).toEqual([
      [20, 10],
      [40, 30],
    ]);
  });

  it('among blocks with equal free space, the one that reached it first is filled (trl\'s deque), not the first opened', () => {
    // Lengths 7, 5, 4, 2, 1 into 10: 7 -> A(3), 5 -> B(5), 4 -> B(1), 2 -> A(1); B had 1 free
    // before A, so 1 goes to B.
    expect(heads(packBfd([ex(1, 10), ex(7, 20), ex(5, 30), ex(2, 40), ex(4, 50)], 10))).toEqual([
      [20, 40],
      [30, 50, 10],
    ]);
  });

  it('truncates examples longer than a block and drops empty ones', () => {
    expect(packBfd([ex(10, 0), ex(0, 50)], 4)).toEqual([{ inputIds: [0, 1, 2, 3], labels: [0, 1, 2, 3], positionIds: [0, 1, 2, 3] }]);
  });

  it(`packs each chunk of ${PACK_CHUNK} rows on its own (datasets' map batches)`, () => {
    const rows = Array.from({ length: PACK_CHUNK + 1 }, (_, i) => ex(1, i));
    const packed = packBfd(rows, PACK_CHUNK);
    expect(packed.map((p) => p.inputIds.length)).toEqual([PACK_CHUNK, 1]);
    expect(packed[1]!.inputIds).toEqual([PACK_CHUNK]);
  });
});

describe('collate of packed examples (trl DataCollatorForLanguageModeling, padding_free=True)', () => {
  it('flattens the batch into one row; labels -100 where a sample starts; items counted after that', () => {
    const b = collate(packBfd([ex(3, 10), ex(2, 20), ex(4, 30)], 5), 0);
    // Blocks [30..33] and [10,11,12,20,21] in one row.
    expect(b.inputIds).toEqual([[30, 31, 32, 33, 10, 11, 12, 20, 21]]);
    expect(b.positionIds).toEqual([[0, 1, 2, 3, 0, 1, 2, 0, 1]]);
    expect(b.labels).toEqual([[-100, 31, 32, 33, -100, 11, 12, -100, 21]]);
    expect(b.attentionMask).toEqual([[1, 1, 1, 1, 1, 1, 1, 1, 1]]);
    expect(b.numItems).toBe(6);
    expect(b.tokens).toBe(9);
    expect(collate([ex(3, 1)], 0).positionIds).toBeUndefined();
  });

  it('pad_to_multiple_of pads the one row: pad id, position 0, label -100, mask 0', () => {
    const b = collate(packBfd([ex(3, 10)], 5), 7, 4);
    expect(b.inputIds).toEqual([[10, 11, 12, 7]]);
    expect(b.positionIds).toEqual([[0, 1, 2, 0]]);
    expect(b.labels).toEqual([[-100, 11, 12, -100]]);
    expect(b.attentionMask).toEqual([[1, 1, 1, 0]]);
    expect(b.numItems).toBe(2);
  });
});
