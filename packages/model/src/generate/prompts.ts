/**
 * Prompt batches for generation: whatever padding the user's tokenizer applied (right, as Qwen's
 * and most training setups use, or left), the prompts are re-padded on the left, so every row's
 * next token sits in the last column (users.md item 5: the user never picks a padding side).
 */
import { ShapeError, ValueError } from '@q/core';

export interface LeftPadded {
  /** The real tokens of each row, in order. */
  rows: number[][];
  /** [B, P], real tokens right-aligned. */
  inputIds: number[][];
  /** [B, P], 0 on padding; undefined when no row is padded. */
  attentionMask?: number[][];
  /** P, the longest prompt. */
  length: number;
}

/**
 * Takes each row's real tokens (where the mask is 1; all of them without a mask) and left-pads
 * them with `padTokenId`.
 *
 * @example
 * ```ts
 * leftPad([[5, 6, 0], [7, 0, 0]], [[1, 1, 0], [1, 0, 0]], 0)
 * // { rows: [[5, 6], [7]], inputIds: [[5, 6], [0, 7]], attentionMask: [[1, 1], [0, 1]], length: 2 }
 * ```
 */
export function leftPad(
  inputIds: ArrayLike<number>[],
  attentionMask: ArrayLike<number>[] | undefined,
  padTokenId: number | null,
): LeftPadded {
  if (inputIds.length === 0) throw new ShapeError('generate: inputIds is empty');
  if (attentionMask && attentionMask.length !== inputIds.length) {
    throw new ShapeError(`generate: attentionMask has ${attentionMask.length} rows, inputIds ${inputIds.length}`);
  }
  const rows = inputIds.map((r, b) => {
    const m = attentionMask?.[b];
    if (m && m.length !== r.length) throw new ShapeError(`generate: attentionMask row ${b} has ${m.length} entries, inputIds row ${b} has ${r.length}`);
    const real = Array.from(r).filter((_, t) => !m || m[t] !== 0);
    if (real.length === 0) throw new ValueError(`generate: prompt ${b} has no tokens (attentionMask is all 0)`);
    return real;
  });
  const length = Math.max(...rows.map((r) => r.length));
  const padded = rows.some((r) => r.length < length);
  if (padded && padTokenId === null) {
    throw new ValueError('generate: prompts of different lengths need a pad id to left-pad with: pass padTokenId (or eosTokenId, which it defaults to)');
  }
  return {
    rows,
    inputIds: rows.map((r) => [...new Array<number>(length - r.length).fill(padTokenId ?? 0), ...r]),
    attentionMask: padded ? rows.map((r) => [...new Array<number>(length - r.length).fill(0), ...new Array<number>(r.length).fill(1)]) : undefined,
    length,
  };
}

/**
 * transformers' rule for a batch given without a mask: when the pad id occurs in the inputs and is
 * not an eos id, the mask is `inputIds != pad`.
 */
export function inferAttentionMask(inputIds: ArrayLike<number>[], padTokenId: number | null, eos: number[]): number[][] | undefined {
  if (padTokenId === null || eos.includes(padTokenId)) return undefined;
  if (!inputIds.some((r) => Array.from(r).includes(padTokenId))) return undefined;
  return inputIds.map((r) => Array.from(r, (id) => (id === padTokenId ? 0 : 1)));
}
