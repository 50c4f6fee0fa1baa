/**
 * An in-memory table of rows with the part of Hugging Face `datasets.Dataset` a fine-tuning
 * recipe uses: shuffle, select, map, filter, train_test_split. Every operation returns a new
 * Dataset and leaves the original as it was.
 */
import { checkInteger, checkNumber, ConfigError, ValueError } from '@q/core';
import { permutation, seededRandom } from './rng';

/** One example: named fields, as a row of a JSON Lines file. */
export type Row = Record<string, unknown>;

/**
 * Rows in memory. Build one with {@link Dataset.fromRows} (browsers, tests) or `loadDataset` (files).
 *
 * @example
 * ```ts
 * const ds = Dataset.fromRows([{ text: 'a' }, { text: 'b' }, { text: 'c' }])
 *   .shuffle({ seed: 42 })
 *   .select({ end: 2 })
 *   .map((row) => ({ chars: String(row.text).length }))
 * ds.columnNames // ['text', 'chars']
 * ```
 */
export class Dataset<R extends Row = Row> implements Iterable<R> {
  private constructor(private readonly data: readonly R[]) {}

  /** A dataset over `rows` (shallow copy of the array). Each row must be a plain object. */
  static fromRows<R extends Row>(rows: readonly R[]): Dataset<R> {
    if (!Array.isArray(rows)) throw new ValueError(`Dataset.fromRows: expected an array of rows, got ${typeof rows}`);
    rows.forEach((row, i) => {
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new ValueError(`Dataset.fromRows: row ${i} is not an object (got ${row === null ? 'null' : Array.isArray(row) ? 'an array' : typeof row})`);
      }
    });
    return new Dataset([...rows]);
  }

  /** Number of rows. */
  get length(): number {
    return this.data.length;
  }

  /** Column names in first-seen order across all rows (rows of JSON Lines files may differ). */
  get columnNames(): string[] {
    const seen = new Set<string>();
    for (const row of this.data) for (const k of Object.keys(row)) seen.add(k);
    return [...seen];
  }

  /** Row `i`; negative counts from the end, like Python. Throws ValueError when out of range. */
  at(i: number): R {
    const n = this.data.length;
    if (!Number.isInteger(i) || i < -n || i >= n) {
      throw new ValueError(`Dataset.at: index ${i} out of range for ${n} rows`);
    }
    return this.data[i < 0 ? n + i : i];
  }

  [Symbol.iterator](): Iterator<R> {
    return this.data[Symbol.iterator]();
  }

  /** A copy of all rows, in order. */
  rows(): R[] {
    return [...this.data];
  }

  /**
   * Rows in a random order fixed by `seed` (default: a random seed). The order is the same in
   * every JS engine but not numpy's, so it differs from `datasets.shuffle(seed=...)`.
   */
  shuffle(options: { seed?: number } = {}): Dataset<R> {
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    checkInteger(seed, 'seed', { min: 0 }, 'Dataset.shuffle');
    return this.pick(permutation(this.data.length, seededRandom(seed)));
  }

  /**
   * Rows at the given indices, in that order, or the rows of a half-open range
   * (`{ end: 3000 }` is Python's `select(range(3000))`).
   */
  select(indices: Iterable<number> | { start?: number; end: number }): Dataset<R> {
    if (Symbol.iterator in Object(indices)) return this.pick([...(indices as Iterable<number>)]);
    const { start = 0, end } = indices as { start?: number; end: number };
    checkInteger(start, 'start', { min: 0 }, 'Dataset.select');
    checkInteger(end, 'end', { min: start, max: this.data.length }, 'Dataset.select');
    return new Dataset(this.data.slice(start, end));
  }

  /**
   * Applies `fn` to each row; the fields it returns are merged into the row, replacing fields of
   * the same name (like `datasets.map`). `removeColumns` drops fields after merging.
   */
  map<N extends Row>(
    fn: (row: R, index: number) => N | void,
    options: { removeColumns?: string[] } = {},
  ): Dataset<Omit<R, keyof N> & N> {
    const out = this.data.map((row, i) => mergeRow(row, fn(row, i), options.removeColumns));
    return new Dataset(out as (Omit<R, keyof N> & N)[]);
  }

  /** {@link Dataset.map} with an async `fn`, run one row at a time in order. */
  async mapAsync<N extends Row>(
    fn: (row: R, index: number) => Promise<N | void>,
    options: { removeColumns?: string[] } = {},
  ): Promise<Dataset<Omit<R, keyof N> & N>> {
    const out: Row[] = [];
    for (let i = 0; i < this.data.length; i++) out.push(mergeRow(this.data[i], await fn(this.data[i], i), options.removeColumns));
    return new Dataset(out as (Omit<R, keyof N> & N)[]);
  }

  /** Rows for which `fn` returns true. */
  filter(fn: (row: R, index: number) => boolean): Dataset<R> {
    return new Dataset(this.data.filter((row, i) => fn(row, i)));
  }

  /**
   * Splits into train and test as `datasets.train_test_split` does: `testSize` is a fraction
   * (test rows = ceil(testSize * n)) or a row count; rows are drawn from a permutation fixed by
   * `seed` (test first), or taken in order with `shuffle: false` (test last).
   */
  trainTestSplit(options: { testSize: number; seed?: number; shuffle?: boolean }): { train: Dataset<R>; test: Dataset<R> } {
    const source = 'Dataset.trainTestSplit';
    const n = this.data.length;
    const t = checkNumber(options.testSize, 'testSize', { min: 0, minExclusive: true }, source);
    let nTest: number;
    if (t < 1) nTest = Math.ceil(t * n);
    else nTest = checkInteger(t, 'testSize', { min: 1, max: n - 1 }, source);
    const nTrain = n - nTest;
    if (nTrain < 1 || nTest < 1) {
      throw new ConfigError('testSize', `a size that leaves both splits non-empty for ${n} rows`, t, source);
    }
    if (options.shuffle === false) {
      return { train: new Dataset(this.data.slice(0, nTrain)), test: new Dataset(this.data.slice(nTrain)) };
    }
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    checkInteger(seed, 'seed', { min: 0 }, source);
    const perm = permutation(n, seededRandom(seed));
    return { test: this.pick(perm.slice(0, nTest)), train: this.pick(perm.slice(nTest)) };
  }

  private pick(indices: number[]): Dataset<R> {
    const n = this.data.length;
    return new Dataset(
      indices.map((i) => {
        if (!Number.isInteger(i) || i < 0 || i >= n) throw new ValueError(`Dataset.select: index ${i} out of range for ${n} rows`);
        return this.data[i];
      }),
    );
  }
}

function mergeRow(row: Row, extra: Row | void, remove?: string[]): Row {
  if (extra !== undefined && (extra === null || typeof extra !== 'object' || Array.isArray(extra))) {
    throw new ValueError(`Dataset.map: the function must return an object of fields (or nothing), got ${extra === null ? 'null' : typeof extra}`);
  }
  const merged: Row = { ...row, ...(extra ?? {}) };
  for (const k of remove ?? []) delete merged[k];
  return merged;
}
