/**
 * The `eval` section: the held-out split (or another dataset) measured before and after training:
 * mean token loss, perplexity and exact match of greedy answers (see ../run/evaluate.ts).
 */
import { checkBoolean, checkInteger, checkString, withDefaults } from '@q/core';

export interface EvalSection {
  /** Measure at all. Default false (true for the built-in model); giving the section turns it on. */
  enabled: boolean;
  /** Dataset file to measure; null = the held-out split of `dataset` (test_size). Default null. */
  path: string | null;
  /** Also measure before training, for the before/after comparison. Default true. */
  before: boolean;
  /** Greedy answers to the chat rows compared with their reference. Default true. */
  exactMatch: boolean;
  /** Tokens per answer at most (never more than the reference's + 8). Default 48. */
  maxNewTokens: number;
  /** Rows per forward pass and per generate() call. Default 16. */
  batchSize: number;
  /** Measure the first N rows only; null = all. Default null. */
  maxRows: number | null;
}

export const EVAL_SECTION_DEFAULTS: Readonly<EvalSection> = Object.freeze({
  enabled: false,
  path: null,
  before: true,
  exactMatch: true,
  maxNewTokens: 48,
  batchSize: 16,
  maxRows: null,
});

const SOURCE = 'eval';

/**
 * `eval: true` is short for `{ enabled: true }`; an object enables it unless it says `enabled: false`.
 *
 * @example
 * ```ts
 * validateEvalSection({ exact_match: false }) // { enabled: true, exactMatch: false, before: true, ... }
 * validateEvalSection(undefined, true).enabled // true (the built-in model's default)
 * ```
 */
export function validateEvalSection(input: unknown, defaultEnabled = false): EvalSection {
  if (input === undefined || input === null) return { ...EVAL_SECTION_DEFAULTS, enabled: defaultEnabled };
  const obj = typeof input === 'boolean' ? { enabled: input } : input;
  const e = withDefaults(obj, { ...EVAL_SECTION_DEFAULTS, enabled: true }, SOURCE, { aliases: { data_files: 'path', num_rows: 'maxRows', eval_batch_size: 'batchSize' } });
  checkBoolean(e.enabled, 'enabled', SOURCE);
  if (e.path !== null) checkString(e.path, 'path', SOURCE);
  checkBoolean(e.before, 'before', SOURCE);
  checkBoolean(e.exactMatch, 'exactMatch', SOURCE);
  checkInteger(e.maxNewTokens, 'maxNewTokens', { min: 1 }, SOURCE);
  checkInteger(e.batchSize, 'batchSize', { min: 1 }, SOURCE);
  if (e.maxRows !== null) checkInteger(e.maxRows, 'maxRows', { min: 1 }, SOURCE);
  return e;
}
