/**
 * lm_head and cross-entropy in row chunks, each under checkpoint(): backward recomputes one
 * chunk's logits at a time, so a 151k vocabulary never holds [tokens, vocab] logits for the whole
 * batch, and no buffer passes the adapter's binding limit (128 MiB on some).
 */
// h: [N, D] final hidden states, head: [V, D], labels: [N] (already shifted) -> loss []
import { add, cast, checkpoint, crossEntropy, embedding, matmul, tensor, type Tensor } from '@q/core';

/** Rows per chunk so that a chunk's f32 logits stay within `maxBytes`. */
export function lossChunkRows(vocab: number, maxBytes: number): number {
  return Math.max(1, Math.floor(maxBytes / (vocab * 4)));
}

export function chunkedLmHeadLoss(h: Tensor, head: Tensor, labels: Int32Array, normalizer: number, maxBytes: number): Tensor {
  const [N] = h.shape as [number, number];
  const V = head.shape[0]!;
  const rows = lossChunkRows(V, maxBytes);
  // Under fp16 the head is cast once per forward, not per chunk; f16 logits feed a loss that
  // computes in f32, as transformers' logits.float() does.
  head = cast(head, h.dtype);
  let total: Tensor | null = null;
  for (let r0 = 0; r0 < N; r0 += rows) {
    const r1 = Math.min(N, r0 + rows);
    const lab = labels.subarray(r0, r1);
    if (lab.every((l) => l === -100)) continue;
    const idx = tensor(Int32Array.from({ length: r1 - r0 }, (_, i) => r0 + i), [r1 - r0], { dtype: 'i32', dev: h.dev });
    const labT = tensor(lab, [r1 - r0], { dtype: 'i32', dev: h.dev });
    const hc = embedding(h, idx);
    const part = checkpoint((x, w, l) => crossEntropy(matmul(x, w, { transB: true }), l, { normalizer }), hc, head, labT);
    total = total ? add(total, part) : part;
  }
  return total ?? tensor([0], [], { dev: h.dev });
}
