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
  let numItems = 0;
  let tokens = 0;
  for (const e of examples) {
    const n = e.inputIds.length;
    const pad = T - n;
    inputIds.push([...e.inputIds, ...new Array<number>(pad).fill(padTokenId)]);
    attentionMask.push([...new Array<number>(n).fill(1), ...new Array<number>(pad).fill(0)]);
    labels.push([...e.labels, ...new Array<number>(pad).fill(-100)]);
    for (let t = 1; t < n; t++) if (e.labels[t] !== -100) numItems++;
    tokens += n;
  }
  return { inputIds, attentionMask, labels, numItems, tokens };
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
