/**
 * Host-side batch preparation: ids, attention mask, position ids (transformers' cumsum(mask) − 1,
 * so left padding does not shift positions) and labels shifted by one for next-token loss.
 */
import { ShapeError, ValueError } from '@q/core';

export interface BatchInput {
  /** Token ids, one row per sequence (equal lengths; pad first). */
  inputIds: number[][] | Int32Array[];
  /** 1 = real token, 0 = padding; default all ones. */
  attentionMask?: number[][] | Int32Array[];
  /** Same shape as inputIds; −100 where no loss is taken. Shifted internally, as transformers does. */
  labels?: number[][] | Int32Array[];
  /**
   * Padding-free packing (trl's padding_free / bfd): several samples share a row and each one's
   * positions restart at 0. A position 0 starts a new sample: tokens attend only within their
   * sample (flash attention's segments), and no loss is taken across a boundary. Training only.
   */
  positionIds?: number[][] | Int32Array[];
}

export interface PreparedBatch {
  B: number;
  T: number;
  ids: Int32Array;
  positions: Int32Array;
  /** Mask over the whole attended span (cache + new), or undefined when nothing is padded. */
  mask?: Int32Array;
  maskLen: number;
  labels?: Int32Array;
  /** [B, T] sample index within each row, with positionIds. */
  segments?: Int32Array;
}

// Masks of earlier decode steps, kept per cache so positions continue from the prompt.
const history = new WeakMap<object, number[][]>();

/**
 * Sets the attention mask of the columns a cache holds ([B][cache.length], 1 = attended), as
 * continuous batching re-lays out its rows; later forwards extend it and take positions from it.
 */
export function setCacheMask(cache: object, mask: number[][]): void {
  history.set(cache, mask.map((r) => [...r]));
}

export function prepareBatch(o: BatchInput & { cache?: object }, vocab: number, past: number, capacity?: number): PreparedBatch {
  const rows = o.inputIds;
  const B = rows.length;
  if (B === 0) throw new ShapeError('forward: inputIds is empty');
  const T = rows[0]!.length;
  if (T === 0) throw new ShapeError('forward: inputIds rows are empty');
  const ids = new Int32Array(B * T);
  rows.forEach((r, b) => {
    if (r.length !== T) throw new ShapeError(`forward: inputIds row ${b} has ${r.length} tokens, row 0 has ${T}; pad rows to one length`);
    for (let t = 0; t < T; t++) {
      const id = r[t]!;
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new ValueError(`forward: inputIds[${b}][${t}] = ${id} is outside the vocabulary [0, ${vocab})`);
      ids[b * T + t] = id;
    }
  });
  const newMask = o.attentionMask?.map((r) => Array.from(r)) ?? rows.map(() => new Array<number>(T).fill(1));
  newMask.forEach((r, b) => {
    if (r.length !== T) throw new ShapeError(`forward: attentionMask row ${b} has ${r.length} entries, expected ${T}`);
  });
  const prev = o.cache ? (history.get(o.cache) ?? []) : [];
  const full = newMask.map((r, b) => [...(prev[b] ?? new Array<number>(past).fill(1)), ...r]);
  if (o.cache) history.set(o.cache, full);
  const positions = new Int32Array(B * T);
  full.forEach((r, b) => {
    let c = 0;
    r.forEach((m, s) => {
      c += m;
      if (s >= past) positions[b * T + s - past] = m ? c - 1 : 1;
    });
  });
  let segments: Int32Array | undefined;
  if (o.positionIds) {
    if (o.cache || past > 0) throw new ValueError('forward: positionIds (packed samples) cannot be used with a KV cache');
    segments = new Int32Array(B * T);
    o.positionIds.forEach((r, b) => {
      if (r.length !== T) throw new ShapeError(`forward: positionIds row ${b} has ${r.length} entries, expected ${T}`);
      let seg = -1;
      for (let t = 0; t < T; t++) {
        const p = r[t]!;
        if (!Number.isInteger(p) || p < 0) throw new ValueError(`forward: positionIds[${b}][${t}] = ${p} must be a non-negative integer`);
        if (p === 0 || seg < 0) seg++;
        positions[b * T + t] = p;
        segments![b * T + t] = seg;
      }
    });
  }
  const padded = full.some((r) => r.some((m) => m === 0));
  const maskLen = capacity ?? past + T;
  let mask: Int32Array | undefined;
  if (padded) {
    mask = new Int32Array(B * maskLen);
    full.forEach((r, b) => r.forEach((m, s) => (mask![b * maskLen + s] = m)));
  }
  let labels: Int32Array | undefined;
  if (o.labels) {
    labels = new Int32Array(B * T).fill(-100);
    o.labels.forEach((r, b) => {
      if (r.length !== T) throw new ShapeError(`forward: labels row ${b} has ${r.length} entries, expected ${T}`);
      // A prediction made at a padding position is meaningless (its query attends to nothing):
      // it takes no loss, even where the caller labelled the token after it.
      for (let t = 0; t + 1 < T; t++) labels![b * T + t] = newMask[b]![t] ? r[t + 1]! : -100;
      // The last token of a packed sample does not predict the next sample's first.
      if (segments) for (let t = 0; t + 1 < T; t++) if (segments[b * T + t + 1] !== segments[b * T + t]) labels![b * T + t] = -100;
    });
  }
  return { B, T, ids, positions, mask, maskLen, labels, segments };
}
