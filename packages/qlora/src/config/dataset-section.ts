/**
 * The `dataset` section: load_dataset's files and split, plus the held-out split the seed gets
 * from `train_test_split`.
 */
import { checkInteger, checkNumber, checkString, ConfigError, withDefaults } from '@q/core';

export interface DatasetSection {
  /** JSON, JSONL, CSV or Parquet file(s) (load_dataset's data_files). null = the built-in tiny chat set. Default null. */
  path: string | string[] | null;
  /** Split to load. Default 'train'. */
  split: string;
  /** Column holding plain text (sets SFTConfig.datasetTextField); rows with `messages` get the chat template. Default null: SFTConfig's ('text'). */
  textField: string | null;
  /** Held-out rows: a count (>= 1) or a fraction in (0, 1); 0 = no eval split. Default 0. */
  testSize: number;
  /** Seed of the shuffle before the split. Default 42 (the seed tutorial's). */
  seed: number;
  /** Use only the first N rows after shuffling (the seed's `.select(range(3_000))`); null = all. Default null. */
  maxRows: number | null;
}

export const DATASET_SECTION_DEFAULTS: Readonly<DatasetSection> = Object.freeze({
  path: null,
  split: 'train',
  textField: null,
  testSize: 0,
  seed: 42,
  maxRows: null,
});

const SOURCE = 'dataset';

/**
 * @example
 * ```ts
 * validateDatasetSection({ data_files: 'chat.jsonl', test_size: 0.1 }) // { path: 'chat.jsonl', testSize: 0.1, split: 'train', ... }
 * validateDatasetSection('chat.jsonl').path // 'chat.jsonl'
 * ```
 */
export function validateDatasetSection(input: unknown): DatasetSection {
  const obj = typeof input === 'string' || Array.isArray(input) ? { path: input } : (input ?? {});
  const d = withDefaults(obj, { ...DATASET_SECTION_DEFAULTS }, SOURCE, {
    aliases: { data_files: 'path', files: 'path', dataset_text_field: 'textField', text_column: 'textField', num_rows: 'maxRows' },
  });
  if (d.path !== null) {
    const ok = typeof d.path === 'string' ? d.path.length > 0 : Array.isArray(d.path) && d.path.length > 0 && d.path.every((p) => typeof p === 'string' && p.length > 0);
    if (!ok) throw new ConfigError('path', 'a file path or a non-empty list of file paths', d.path, SOURCE);
  }
  checkString(d.split, 'split', SOURCE);
  if (d.textField !== null) checkString(d.textField, 'textField', SOURCE);
  checkNumber(d.testSize, 'testSize', { min: 0 }, SOURCE);
  if (d.testSize >= 1 && !Number.isInteger(d.testSize)) {
    throw new ConfigError('testSize', 'a row count (integer >= 1), a fraction in (0, 1), or 0 for no eval split', d.testSize, SOURCE);
  }
  checkInteger(d.seed, 'seed', { min: 0 }, SOURCE);
  if (d.maxRows !== null) checkInteger(d.maxRows, 'maxRows', { min: 1 }, SOURCE);
  return d;
}
