/**
 * lm_head and cross-entropy through @q/core's linearCrossEntropy, over the rows that carry a label:
 * the logits of a 151k vocabulary exist one row chunk at a time (forward, and backward, which
 * rewrites a chunk's logits into their gradient in place), and no buffer passes the adapter's
 * binding limit (128 MiB on some).
 */
// h: [N, D] final hidden states, head: [V, D], labels: [N] (already shifted) -> loss []
import { embedding, linearCrossEntropy, tensor, type Tensor } from '@q/core';

/** Rows per chunk so that a chunk's f32 logits stay within `maxBytes`. */
export function lossChunkRows(vocab: number, maxBytes: number): number {
  return Math.max(1, Math.floor(maxBytes / (vocab * 4)));
}

export function chunkedLmHeadLoss(h: Tensor, head: Tensor, labels: Int32Array, normalizer: number, maxBytes: number): Tensor {
  if (labels.every((l) => l === -100)) return tensor([0], [], { dev: h.dev });
  // Only rows with a label go through lm_head: with assistant-only or completion-only loss most
  // rows have none, and their logits would be computed (forward and backward) for nothing.
  const valid: number[] = [];
  labels.forEach((l, i) => {
    if (l !== -100) valid.push(i);
  });
  const x = valid.length === labels.length ? h : embedding(h, tensor(Int32Array.from(valid), [valid.length], { dtype: 'i32', dev: h.dev }));
  const lab = tensor(Int32Array.from(valid, (i) => labels[i]!), [valid.length], { dtype: 'i32', dev: h.dev });
  // Under fp16 the f16 hidden states meet the f32 head inside the products (read as f32, rounded
  // to f16 in the tensor-core tiles, as autocast casts the weight), so no f16 copy of a tied
  // 151936x896 head is held (it would add 272 MB to the peak). The logits are f16 as under
  // autocast; the loss is f32, as transformers' logits.float().
  return linearCrossEntropy(x, head, lab, { normalizer, maxChunkBytes: maxBytes });
}
