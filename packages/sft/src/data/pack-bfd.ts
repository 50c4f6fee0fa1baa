/**
 * Packing 'bfd' (best-fit decreasing), as trl's `pack_dataset(strategy="bfd")` (trl/data_utils.py
 * `_pack_bfd`): whole examples, truncated to maxLength, are placed longest first into the fullest
 * block they still fit; each block carries position ids restarting at every example, so attention
 * stays within an example (padding-free packing) and no compute goes to padding.
 *
 * The details follow trl, so that blocks hold the same examples in the same order:
 * - rows are packed in chunks of {@link PACK_CHUNK} (trl packs through `Dataset.map(batched=True)`,
 *   whose batches are 1000 rows): no block mixes rows of two chunks;
 * - empty examples are dropped, longer ones truncated (their overflow is lost, as trl's "truncate");
 * - the sort by length is stable (pyarrow's sort), so equal lengths keep the dataset order;
 * - among blocks with the same free space, the one that reached that space first is filled first;
 * - blocks come out in the order they were opened, examples in the order they were placed.
 */
import type { Example } from './tokenize-rows';

/** Rows per packing chunk: datasets' `Dataset.map(batched=True)` default batch_size, which trl keeps. */
export const PACK_CHUNK = 1000;

export function packBfd(examples: Example[], maxLength: number): Example[] {
  const out: Example[] = [];
  for (let s = 0; s < examples.length; s += PACK_CHUNK) out.push(...packChunk(examples.slice(s, s + PACK_CHUNK), maxLength));
  return out;
}

function packChunk(examples: Example[], maxLength: number): Example[] {
  const items = examples
    .filter((e) => e.inputIds.length > 0)
    .map((e) => ({ inputIds: e.inputIds.slice(0, maxLength), labels: e.labels.slice(0, maxLength) }));
  // Array.prototype.sort is stable: ties keep the dataset order.
  const order = items.map((_, i) => i).sort((a, b) => items[b]!.inputIds.length - items[a]!.inputIds.length);
  const free = new FreeSpaces(maxLength);
  free.add(maxLength); // a new, empty block is always available
  // Blocks waiting with exactly this much free space, first come first served (trl's deque).
  const waiting = new Map<number, number[][]>();
  const bins: number[][] = [];
  for (const i of order) {
    const n = items[i]!.inputIds.length;
    const space = free.smallestAtLeast(n);
    let bin: number[];
    if (space < maxLength) {
      const queue = waiting.get(space)!;
      bin = queue.shift()!;
      if (queue.length === 0) free.remove(space);
    } else {
      bin = [];
      bins.push(bin);
    }
    bin.push(i);
    const left = space - n;
    if (!waiting.has(left)) waiting.set(left, []);
    waiting.get(left)!.push(bin);
    if (left > 0) free.add(left);
  }
  return bins.map((ids) => {
    const ex = ids.map((i) => items[i]!);
    return {
      inputIds: ex.flatMap((e) => e.inputIds),
      labels: ex.flatMap((e) => e.labels),
      positionIds: ex.flatMap((e) => e.inputIds.map((_, t) => t)),
    };
  });
}

/**
 * The free spaces 1..maxLength that some block has, as a max segment tree over the space values,
 * so the smallest one that fits is found in O(log maxLength) (trl's `_SegmentTree`, after "Fewer
 * Truncations Improve Language Modeling", arXiv 2404.10830).
 */
class FreeSpaces {
  private readonly size: number;
  private readonly tree: Int32Array;
  constructor(private readonly maxLength: number) {
    this.size = 1 << Math.ceil(Math.log2(Math.max(1, maxLength)));
    this.tree = new Int32Array(2 * this.size);
  }

  add(space: number): void {
    this.set(space, space);
  }

  remove(space: number): void {
    this.set(space, 0);
  }

  /** The smallest free space ≥ n (maxLength, a new block, is always there). */
  smallestAtLeast(n: number): number {
    let i = 1;
    while (i < this.size) i = this.tree[2 * i]! >= n ? 2 * i : 2 * i + 1;
    return this.tree[i]!;
  }

  private set(space: number, value: number): void {
    if (!(space > 0 && space <= this.maxLength)) throw new RangeError(`free space ${space} outside [1, ${this.maxLength}]`);
    let i = this.size + space - 1;
    this.tree[i] = value;
    for (i >>= 1; i >= 1; i >>= 1) this.tree[i] = Math.max(this.tree[2 * i]!, this.tree[2 * i + 1]!);
  }
}
