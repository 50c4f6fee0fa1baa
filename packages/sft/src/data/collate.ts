/**
 * Batches examples for training: right padding (the side training wants; generation pads left),
 * attention mask 0 and label −100 on padding. Only padding is masked, never a real eos, so a pad
 * token equal to eos does not stop the model from learning to end (users.md #4).
 */
import { PACK_CHUNK } from './pack-bfd';
import type { Example } from './tokenize-rows';

export interface Batch {
  inputIds: number[][];
  attentionMask: number[][];
  labels: number[][];
  /** Present when the examples are bfd-packed (padding-free, one row): positions restart per sample. */
  positionIds?: number[][];
  /** Tokens that carry a label after the shift (transformers' num_items_in_batch). */
  numItems: number;
  tokens: number;
}

export function collate(examples: Example[], padTokenId: number, padToMultipleOf: number | null = null): Batch {
  if (examples.some((e) => e.positionIds)) return collatePaddingFree(examples, padTokenId, padToMultipleOf);
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
    // A row's first token is predicted by nothing (labels[:, 1:]).
    for (let t = 1; t < n; t++) if (e.labels[t] !== -100) numItems++;
    tokens += n;
  }
  return { inputIds, attentionMask, labels, numItems, tokens };
}

/**
 * trl's collator with padding_free (what bfd packing turns on): the batch's packed examples are
 * flattened into one row, position ids restarting at every sample (0 on padding), and the label of
 * each sample's first token is −100 (labels[position_ids == 0] = −100), since the token before it
 * belongs to another sample. trl emits no attention mask; @q's is 1 on tokens, 0 on padding.
 */
function collatePaddingFree(examples: Example[], padTokenId: number, padToMultipleOf: number | null): Batch {
  const ids = examples.flatMap((e) => e.inputIds);
  const pos = examples.flatMap((e) => e.positionIds ?? e.inputIds.map((_, t) => t));
  const lab = examples.flatMap((e) => e.labels);
  const n = ids.length;
  const T = padToMultipleOf ? Math.ceil(n / padToMultipleOf) * padToMultipleOf : n;
  const pad = T - n;
  const positionIds = [...pos, ...new Array<number>(pad).fill(0)];
  const labels = [...lab, ...new Array<number>(pad).fill(-100)].map((l, t) => (positionIds[t] === 0 ? -100 : l));
  const numItems = labels.reduce((a, l) => a + (l !== -100 ? 1 : 0), 0);
  return {
    inputIds: [[...ids, ...new Array<number>(pad).fill(padTokenId)]],
    attentionMask: [[...new Array<number>(n).fill(1), ...new Array<number>(pad).fill(0)]],
    labels: [labels],
    positionIds: [positionIds],
    numItems,
    tokens: n,
  };
}

/**
 * Packing ('wrapped', trl's `pack_dataset(strategy="wrapped")`): examples are concatenated and cut
 * into blocks of maxLength, so no compute is spent on padding. As in trl, this is done per chunk of
 * {@link PACK_CHUNK} rows, so each chunk's last block may be short.
 */
export function packExamples(examples: Example[], maxLength: number): Example[] {
  const out: Example[] = [];
  for (let c = 0; c < examples.length; c += PACK_CHUNK) {
    const chunk = examples.slice(c, c + PACK_CHUNK);
    const ids = chunk.flatMap((e) => e.inputIds);
    const labels = chunk.flatMap((e) => e.labels);
    for (let s = 0; s < ids.length; s += maxLength) {
      out.push({ inputIds: ids.slice(s, s + maxLength), labels: labels.slice(s, s + maxLength) });
    }
  }
  return out;
}
