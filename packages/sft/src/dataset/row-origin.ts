/**
 * Where a row came from (file and line), remembered beside the row object itself, so an error
 * about a row names its line in the file even after shuffle, select or a train/test split, which
 * keep the same row objects in another order.
 */
const origins = new WeakMap<object, string>();

/** Records that `row` is `where` (e.g. "train.jsonl line 12"). */
export function setRowOrigin(row: object, where: string): void {
  origins.set(row, where);
}

/**
 * "train.jsonl line 12" for a row read from a file, else "row <i>" (its position now).
 *
 * @example
 * ```ts
 * throw new ValueError(`${rowLabel(row, i)}: "messages" must be an array`);
 * ```
 */
export function rowLabel(row: object, i: number): string {
  return origins.get(row) ?? `row ${i}`;
}
