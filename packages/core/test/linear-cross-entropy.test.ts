import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, linearCrossEntropy, crossEntropy, matmul, tensor, keep, tidy, backward, type QDevice } from '../src';
import { checkOp, reference } from '../src/testing';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const labels = [3, -100, 0, 6, 6, 1, -100];

describe('linearCrossEntropy', () => {
  it('one chunk: loss vs float64 reference, gradients of h and W vs finite differences', async () => {
    const attrs = { ignoreIndex: -100, normalizer: 5, maxChunkBytes: 1 << 20 };
    await checkOp('linearCrossEntropy', (h, w, l) => linearCrossEntropy(h, w, l, attrs), reference('linearCrossEntropy', attrs), [
      { shape: [7, 5] },
      { shape: [9, 5] },
      { shape: [7], data: labels, dtype: 'i32' },
    ]);
  });
  it('chunks of 2 rows (logits never whole), a normalizer other than the count', async () => {
    // 9 f32 logits per row: 72 bytes allow 2 rows per chunk.
    const attrs = { ignoreIndex: -100, normalizer: 11, maxChunkBytes: 72 };
    await checkOp('linearCrossEntropy', (h, w, l) => linearCrossEntropy(h, w, l, attrs), reference('linearCrossEntropy', attrs), [
      { shape: [7, 5] },
      { shape: [9, 5] },
      { shape: [7], data: labels, dtype: 'i32' },
    ]);
  });
  it('equals crossEntropy(matmul(h, Wᵀ)) with a frozen W (only dh)', async () => {
    const h = keep(tensor(Float32Array.from({ length: 7 * 5 }, (_, i) => Math.sin(i)), [7, 5], { requiresGrad: true }));
    const w = keep(tensor(Float32Array.from({ length: 9 * 5 }, (_, i) => Math.cos(i * 0.7)), [9, 5]));
    const l = keep(tensor(labels, [7], { dtype: 'i32' }));
    const run = async (fused: boolean) => {
      const loss = keep(tidy(() => (fused ? linearCrossEntropy(h, w, l, { normalizer: 5, maxChunkBytes: 100 }) : crossEntropy(matmul(h, w, { transB: true }), l, { normalizer: 5 }))));
      backward(loss);
      const r = [await loss.item(), ...(await h.grad!.read())];
      loss.release();
      h.grad!.release();
      h.grad = null;
      return r;
    };
    const a = await run(true);
    const b = await run(false);
    a.forEach((x, i) => expect(x).toBeCloseTo(b[i]!, 5));
    expect(w.grad).toBeNull();
    for (const t of [h, w, l]) t.release();
  });
  it('f16 hidden states against an f32 head (fp16 training): f16 logits and dh, as under autocast', async (ctx) => {
    if (!dev.info.f16) return ctx.skip();
    // h exactly representable in f16, so the f32 run sees the same inputs.
    const hv = Float32Array.from({ length: 7 * 5 }, (_, i) => Math.round(Math.sin(i) * 64) / 64);
    const w = keep(tensor(Float32Array.from({ length: 9 * 5 }, (_, i) => Math.cos(i * 0.7)), [9, 5]));
    const l = keep(tensor(labels, [7], { dtype: 'i32' }));
    const run = async (dtype: 'f16' | 'f32') => {
      const h = keep(tensor(hv, [7, 5], { dtype, requiresGrad: true }));
      const loss = keep(tidy(() => linearCrossEntropy(h, w, l, { normalizer: 5, maxChunkBytes: 100 })));
      backward(loss);
      expect(h.grad!.dtype).toBe(dtype);
      const r = [await loss.item(), ...(await h.grad!.read())];
      for (const t of [loss, h.grad!, h]) t.release();
      return r;
    };
    const mixed = await run('f16');
    const full = await run('f32');
    // The logits and dh are rounded to f16 (|z| <= 5): a few 1e-3 of their scale.
    mixed.forEach((x, i) => expect(Math.abs(x - full[i]!)).toBeLessThan(i === 0 ? 5e-3 : 2e-3));
    expect(w.grad).toBeNull();
    for (const t of [w, l]) t.release();
  });
});
