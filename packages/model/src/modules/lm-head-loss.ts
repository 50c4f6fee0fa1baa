/**
 * lm_head and cross-entropy in row chunks over the rows that carry a label, each under checkpoint(): backward recomputes one
 * chunk's logits at a time, so a 151k vocabulary never holds [tokens, vocab] logits for the whole
 * batch, and no buffer passes the adapter's binding limit (128 MiB on some).
 */
// h: [N, D] final hidden states, head: [V, D], labels: [N] (already shifted) -> loss []
import { add, checkpoint, crossEntropy, embedding, matmul, tensor, type Tensor } from '@q/core';

/** Rows per chunk so that a chunk's f32 logits stay within `maxBytes`. */
export function lossChunkRows(vocab: number, maxBytes: number): number {
  return Math.max(1, Math.floor(maxBytes / (vocab * 4)));
}

export function chunkedLmHeadLoss(h: Tensor, head: Tensor, labels: Int32Array, normalizer: number, maxBytes: number): Tensor {
  const V = head.shape[0]!;
  const rows = lossChunkRows(V, maxBytes);
  // Only rows with a label go through lm_head: with assistant-only or completion-only loss most
  // rows have none, and their logits would be computed (twice, with the recompute) for nothing.
  const valid: number[] = [];
  labels.forEach((l, i) => {
    if (l !== -100) valid.push(i);
  });
  let total: Tensor | null = null;
  for (let r0 = 0; r0 < valid.length; r0 += rows) {
    const pick = valid.slice(r0, r0 + rows);
    const idx = tensor(Int32Array.from(pick), [pick.length], { dtype: 'i32', dev: h.dev });
    const labT = tensor(Int32Array.from(pick, (i) => labels[i]!), [pick.length], { dtype: 'i32', dev: h.dev });
    const hc = embedding(h, idx);
    const part = checkpoint((x, w, l) => crossEntropy(matmul(x, w, { transB: true }), l, { normalizer }), hc, head, labT);
    total = total ? add(total, part) : part;
  }
  return total ?? tensor([0], [], { dev: h.dev });
}
