import { ValueError } from '@q/core';

/** Options of batch encoding. */
export interface BatchOptions {
  /** Add the post-processor's special tokens. Default true. */
  addSpecialTokens?: boolean;
  /** 'longest' pads to the longest row, 'max_length' to `maxLength`, false not at all. Default 'longest'. */
  padding?: 'longest' | 'max_length' | false;
  /** Truncate rows longer than this (special tokens included); also the 'max_length' target. */
  maxLength?: number;
  /** Side pads go on. Default: tokenizer_config's padding_side, else the tokenizer class's default (see `defaultPaddingSide`). */
  paddingSide?: 'left' | 'right';
  /** Side truncation cuts. Default: tokenizer_config's truncation_side, else 'right'. */
  truncationSide?: 'left' | 'right';
  /** Pad id. Default: the tokenizer's pad token; required when it has none and padding is needed. */
  padTokenId?: number | null;
}

/** Padded ids and attention mask (1 = real token, 0 = padding), all rows the same length when padded. */
export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
}

/** One encoded text split into the post-processor's prefix, the text's tokens, and its suffix. */
export interface BatchRow {
  prefix: number[];
  inner: number[];
  suffix: number[];
}

/**
 * Truncates the text part of each row so the whole fits `maxLength` (special tokens are kept, as
 * transformers does), then pads.
 *
 * @example
 * ```ts
 * padBatch([{ prefix: [1], inner: [5, 6, 7], suffix: [] }], { maxLength: 3, padTokenId: 0 })
 * // { inputIds: [[1, 5, 6]], attentionMask: [[1, 1, 1]] }
 * ```
 */
export function padBatch(rows: BatchRow[], options: BatchOptions): BatchEncoding {
  const { maxLength, padding = 'longest' } = options;
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength > 0)) {
    throw new ValueError(`maxLength must be a positive integer, got ${maxLength}`);
  }
  if (padding === 'max_length' && maxLength === undefined) throw new ValueError("padding 'max_length' needs maxLength");
  const ids = rows.map(({ prefix, inner, suffix }) => {
    if (maxLength === undefined || prefix.length + inner.length + suffix.length <= maxLength) return [...prefix, ...inner, ...suffix];
    const room = Math.max(0, maxLength - prefix.length - suffix.length);
    const kept = options.truncationSide === 'left' ? inner.slice(inner.length - room) : inner.slice(0, room);
    return [...prefix, ...kept, ...suffix].slice(0, maxLength);
  });
  const target = padding === 'max_length' ? maxLength! : padding === 'longest' ? Math.max(0, ...ids.map((r) => r.length)) : 0;
  const pad = options.padTokenId;
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  for (const row of ids) {
    const n = Math.max(0, target - row.length);
    if (n > 0 && (pad === null || pad === undefined)) {
      throw new ValueError('padding needs a pad token, and this tokenizer has none: pass padTokenId (e.g. the unk id, or a dedicated token; reusing eos hides eos from the loss)');
    }
    const pads = new Array<number>(n).fill(pad ?? 0);
    const ones = new Array<number>(row.length).fill(1);
    const zeros = new Array<number>(n).fill(0);
    const left = options.paddingSide === 'left';
    inputIds.push(left ? [...pads, ...row] : [...row, ...pads]);
    attentionMask.push(left ? [...zeros, ...ones] : [...ones, ...zeros]);
  }
  return { inputIds, attentionMask };
}
