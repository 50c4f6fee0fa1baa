import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getDevice, attention, attentionFused, maskedSoftmax, permute, randn, tensor, keep, tidy, sum, mul, backward, tapeSize,
  type QDevice, type Tensor,
} from '../src';
import { checkOp, reference } from '../src/testing';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe('permute', () => {
  it('moves heads in front of positions, and back in backward', async () => {
    await checkOp('permute', (x) => permute(x, [0, 2, 1, 3]), reference('permute', { dims: [0, 2, 1, 3] }), [{ shape: [2, 3, 4, 5] }]);
  });
  it('any permutation, negative axes, size-1 axes', async () => {
    const dims = [3, 1, 4, 0, 2];
    await checkOp('permute', (x) => permute(x, [-2, 1, -1, 0, 2]), reference('permute', { dims }), [{ shape: [2, 3, 1, 4, 5] }]);
    // Only a size-1 axis moves: a view, still differentiable.
    await checkOp('permute', (x) => permute(x, [1, 0, 2]), reference('permute', { dims: [1, 0, 2] }), [{ shape: [1, 3, 4] }]);
  });
  it('rejects a non-permutation', () => {
    const x = keep(tensor([1, 2, 3, 4], [2, 2]));
    expect(() => permute(x, [0, 0])).toThrow(/permutation/);
    x.release();
  });
});

describe('maskedSoftmax', () => {
  it('causal + padding + unfilled keys, fully masked rows are zeros', async () => {
    // Query t sees keys ≤ t + kvLen − T = t + 2, and key 6 is unfilled. Batch 1's first four keys
    // are padding, so its queries 0 and 1 see nothing.
    const mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1];
    const attrs = { scale: 0.7, causal: true, kvLen: 6 };
    const r = reference('maskedSoftmax', attrs);
    const ref = r({ shape: [2, 3, 4, 7], data: new Float64Array(168).fill(1) }, { shape: [2, 8], data: Float64Array.from(mask) });
    expect(Array.from(ref.data.subarray(84, 84 + 14))).toEqual(new Array(14).fill(0));
    await checkOp('maskedSoftmax', (x, m) => maskedSoftmax(x, m, attrs), r, [
      { shape: [2, 3, 4, 7] },
      { shape: [2, 8], data: mask, dtype: 'i32' },
    ]);
  });
  it('no mask, non-causal, rows wider than a workgroup', async () => {
    const attrs = { scale: 1.3, causal: false, kvLen: 300 };
    await checkOp('maskedSoftmax', (x) => maskedSoftmax(x, undefined, attrs), reference('maskedSoftmax', attrs), [{ shape: [1, 2, 3, 300] }]);
  });
});

describe('attention paths', () => {
  it('the fused kernels differentiate (P computed once in backward)', async () => {
    const mask = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1];
    const attrs = { scale: 1 / Math.sqrt(8), causal: true, kvLen: 5 };
    await checkOp(
      'attention',
      (q, k, v, m) => attentionFused(q, k, v, { mask: m }),
      reference('attention', attrs),
      [{ shape: [2, 5, 4, 8] }, { shape: [2, 5, 2, 8] }, { shape: [2, 5, 2, 8] }, { shape: [2, 5], data: mask, dtype: 'i32' }],
      { gradTol: 2e-3 },
    );
  });

  // Composed (permute + matmul + maskedSoftmax) against fused, forward and gradients of q, k, v.
  async function compare(B: number, T: number, Hq: number, Hkv: number, D: number, mask: number[] | undefined): Promise<void> {
    const q = keep(randn([B, T, Hq, D], 1, { requiresGrad: true }));
    const k = keep(randn([B, T, Hkv, D], 2, { requiresGrad: true }));
    const v = keep(randn([B, T, Hkv, D], 3, { requiresGrad: true }));
    const w = keep(randn([B, T, Hq, D], 4));
    const m = mask && keep(tensor(mask, [B, T], { dtype: 'i32' }));
    const run = async (f: typeof attention) => {
      const y = keep(f(q, k, v, { mask: m, causal: true }));
      const loss = keep(tidy(() => sum(mul(y, w))));
      backward(loss);
      const out = [await y.read(), ...(await Promise.all([q, k, v].map((t) => t.grad!.read())))];
      for (const t of [y, loss, q.grad!, k.grad!, v.grad!]) t.release();
      for (const t of [q, k, v]) t.grad = null;
      return out;
    };
    const fused = await run(attentionFused);
    const composed = await run(attention);
    expect(tapeSize()).toBe(0);
    ['out', 'dq', 'dk', 'dv'].forEach((name, i) => {
      let e = 0;
      for (let j = 0; j < fused[i]!.length; j++) e = Math.max(e, Math.abs(composed[i]![j]! - fused[i]![j]!) / (1 + Math.abs(fused[i]![j]!)));
      expect(e, name).toBeLessThan(1e-4);
    });
    for (const t of [q, k, v, w, m] as Tensor[]) t?.release();
  }

  it('composed equals fused: padding + GQA + causal', async () => {
    // 6 query heads over 2 KV heads; batch 0 left-padded by 3 (rows 0..2 fully masked), batch 1 by none.
    const T = 9;
    const mask = [...[0, 0, 0], ...new Array(T - 3).fill(1), ...new Array(T).fill(1)];
    await compare(2, T, 6, 2, 8, mask);
  });
  it('composed equals fused past one matmul tile (T = 70, 2 query heads per KV head)', async () => {
    const T = 70;
    const mask = [...new Array(5).fill(0), ...new Array(T - 5).fill(1), ...new Array(T).fill(1)];
    await compare(2, T, 4, 2, 16, mask);
  });
  it('composed equals fused without a mask, multi-query', async () => {
    await compare(1, 13, 3, 1, 5, undefined);
  });
});
