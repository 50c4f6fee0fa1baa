/**
 * Which micro-batches of an optimizer step each rank runs. Every rank shuffles the epoch the same
 * way (the order depends only on the data seed and the epoch), and an optimizer step consumes
 * `accumulation × size` consecutive micro-batches of that order: the global batch is
 * per-device batch × ranks × accumulation, and the examples are those a single process with
 * `accumulation × size` accumulation steps would see in the same step. Rank r takes every
 * size-th micro-batch from the r-th, so a short last step of an epoch stays balanced.
 */

/** Global micro-batches consumed by one optimizer step. */
export function microBatchesPerStep(accumulation: number, size: number): number {
  return accumulation * size;
}

/**
 * The global micro-batch indices (within the epoch) that `rank` runs in a step starting at
 * `first` and holding `count` micro-batches. A rank may get none (a short last step).
 */
export function shardMicroBatches(first: number, count: number, rank: number, size: number): number[] {
  const out: number[] = [];
  for (let j = rank; j < count; j += size) out.push(first + j);
  return out;
}
