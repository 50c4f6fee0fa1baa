import { nodeModules } from '@q/model';
/**
 * `loadDataset`: rows from local .json, .jsonl or .parquet files in Node, grouped into splits
 * like `datasets.load_dataset`. Browsers use `Dataset.fromRows` or `parseRows` instead.
 */
import { ConfigError, FormatError } from '@q/core';
import { Dataset, type Row } from './dataset';
import { formatOf, parseRows } from './parse-rows';

/** A file, several files (one split, 'train'), or files per split name. */
export type DataFiles = string | string[] | Record<string, string | string[]>;

const SPLIT_NAMES = ['train', 'validation', 'valid', 'dev', 'test'];

/**
 * Loads local data files. With `split`, returns that split; without, returns every split by
 * name (`{ train, test }`). A directory is read file by file, each file going to the split its
 * name starts with (train*, test*, validation*, valid*, dev*), else to 'train'.
 *
 * Throws {@link FormatError} naming the file (and line or row) for a missing file, malformed
 * JSON or an unreadable parquet file, and {@link ConfigError} for an unknown split.
 *
 * @example
 * ```ts
 * const train = await loadDataset('data/train.jsonl', { split: 'train' })
 * const { train, test } = await loadDataset({ train: 'a.parquet', test: ['b.jsonl'] })
 * ```
 */
export async function loadDataset(files: DataFiles, options: { split: string }): Promise<Dataset>;
export async function loadDataset(files: DataFiles, options?: { split?: undefined }): Promise<Record<string, Dataset>>;
export async function loadDataset(
  files: DataFiles,
  options: { split?: string } = {},
): Promise<Dataset | Record<string, Dataset>> {
  const { fs } = await nodeModules();
  const splits = await resolveSplits(files, fs);
  if (options.split !== undefined && !(options.split in splits)) {
    throw new ConfigError('split', `one of ${Object.keys(splits).map((s) => JSON.stringify(s)).join(', ')}`, options.split, 'loadDataset');
  }
  const wanted = options.split === undefined ? Object.keys(splits) : [options.split];
  const out: Record<string, Dataset> = {};
  for (const split of wanted) {
    const rows: Row[] = [];
    for (const file of splits[split]) {
      const parsed = await readRows(file, fs);
      for (const r of parsed) rows.push(r);
    }
    out[split] = Dataset.fromRows(rows);
  }
  return options.split === undefined ? out : out[options.split];
}

type Fs = typeof import('node:fs/promises');

async function resolveSplits(files: DataFiles, fs: Fs): Promise<Record<string, string[]>> {
  if (typeof files === 'string') {
    const info = await statOrFail(files, fs);
    return info.isDirectory() ? splitsOfDirectory(files, fs) : { train: [files] };
  }
  if (Array.isArray(files)) {
    if (files.length === 0) throw new ConfigError('files', 'at least one data file', files, 'loadDataset');
    return { train: files };
  }
  if (files === null || typeof files !== 'object') {
    throw new ConfigError('files', 'a path, a list of paths or { split: paths }', files, 'loadDataset');
  }
  return Object.fromEntries(Object.entries(files).map(([split, f]) => [split, Array.isArray(f) ? f : [f]]));
}

async function splitsOfDirectory(dir: string, fs: Fs): Promise<Record<string, string[]>> {
  const names = (await fs.readdir(dir)).filter((n) => formatOf(n) !== undefined).sort();
  if (names.length === 0) throw new FormatError(dir, 'no .json, .jsonl or .parquet files in this directory');
  const splits: Record<string, string[]> = {};
  for (const name of names) {
    const split = SPLIT_NAMES.find((s) => name.toLowerCase().startsWith(s)) ?? 'train';
    (splits[split] ??= []).push(`${dir.replace(/\/+$/, '')}/${name}`);
  }
  return splits;
}

async function statOrFail(file: string, fs: Fs) {
  try {
    return await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FormatError(file, code === 'ENOENT' ? 'no such file or directory' : `cannot read (${code ?? (e as Error).message})`);
  }
}

async function readRows(file: string, fs: Fs): Promise<Row[]> {
  if (formatOf(file) === undefined) {
    throw new FormatError(file, 'unsupported file type; expected .json, .jsonl or .parquet');
  }
  const info = await statOrFail(file, fs);
  if (info.isDirectory()) throw new FormatError(file, 'is a directory; pass it alone to read its files as splits');
  const bytes = await fs.readFile(file);
  return parseRows(file, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
