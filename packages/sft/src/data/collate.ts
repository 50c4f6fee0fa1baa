/**
 * Batches examples for training: right padding (the side training wants; generation pads left),
 * attention mask 0 and label −100 on padding. Only padding is masked, never a real eos, so a pad
 * token equal to eos does not stop the model from learning to end (users.md #4).
 */
import type { Example } from './tokenize-rows';

export interface Batch {
  inputIds: number[][];
  attentionMask: number[][];
  labels: number[][];
  /** Present when the examples are bfd-packed (padding-free): positions restart per sample. */
  positionIds?: number[][];
  /** Tokens that carry a label after the shift (transformers' num_items_in_batch). */
  numItems: number;
  tokens: number;
}

export function collate(examples: Example[], padTokenId: number, padToMultipleOf: number | null = null): Batch {
  let T = Math.max(...examples.map((e) => e.inputIds.length));
  if (padToMultipleOf) T = Math.ceil(T / padToMultipleOf) * padToMultipleOf;
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const labels: number[][] = [];
  const packed = examples.some((e) => e.positionIds);
  const positionIds: number[][] = [];
  let numItems = 0;
  let tokens = 0;
  for (const e of examples) {
    const n = e.inputIds.length;
    const pad = T - n;
    inputIds.push([...e.inputIds, ...new Array<number>(pad).fill(padTokenId)]);
    attentionMask.push([...new Array<number>(n).fill(1), ...new Array<number>(pad).fill(0)]);
    labels.push([...e.labels, ...new Array<number>(pad).fill(-100)]);
    const pos = e.positionIds ?? Array.from({ length: n }, (_, t) => t);
    // Padding after packed samples is one more (masked) segment.
    if (packed) positionIds.push([...pos, ...Array.from({ length: pad }, (_, t) => t)]);
    // A sample's first token is predicted by nothing (the model takes no loss across samples).
    for (let t = 1; t < n; t++) if (e.labels[t] !== -100 && pos[t] !== 0) numItems++;
    tokens += n;
  }
  return packed ? { inputIds, attentionMask, labels, positionIds, numItems, tokens } : { inputIds, attentionMask, labels, numItems, tokens };
}

/**
 * Packing ('wrapped', trl's classic ConstantLengthDataset): examples are concatenated and cut
 * into blocks of maxLength, so no compute is spent on padding.
 */
export function packExamples(examples: Example[], maxLength: number): Example[] {
  const ids: number[] = [];
  const labels: number[] = [];
  for (const e of examples) {
    ids.push(...e.inputIds);
    labels.push(...e.labels);
  }
  const out: Example[] = [];
  for (let s = 0; s + 1 < ids.length; s += maxLength) {
    out.push({ inputIds: ids.slice(s, s + maxLength), labels: labels.slice(s, s + maxLength) });
  }
  return out;
}

/**
 * Packing ('bfd', trl's default): whole examples (truncated to maxLength) are placed, longest
 * first, into the fullest block they still fit (best-fit decreasing). Each block carries position
 * ids restarting at every example, so attention stays within an example (padding-free packing)
 * and no compute goes to padding.
 */
export function packBfd(examples: Example[], maxLength: number): Example[] {
  const items = examples
    .map((e) => ({ inputIds: e.inputIds.slice(0, maxLength), labels: e.labels.slice(0, maxLength) }))
    .sort((a, b) => b.inputIds.length - a.inputIds.length);
  const bins: { ex: Example[]; free: number }[] = [];
  for (const e of items) {
    let best = -1;
    for (let i = 0; i < bins.length; i++) {
      const f = bins[i]!.free;
      if (f >= e.inputIds.length && (best < 0 || f < bins[best]!.free)) best = i;
    }
    if (best < 0) bins.push({ ex: [e], free: maxLength - e.inputIds.length });
    else {
      bins[best]!.ex.push(e);
      bins[best]!.free -= e.inputIds.length;
    }
  }
  return bins.map(({ ex }) => ({
    inputIds: ex.flatMap((e) => e.inputIds),
    labels: ex.flatMap((e) => e.labels),
    positionIds: ex.flatMap((e) => e.inputIds.map((_, t) => t)),
  }));
}
