import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, flashAttention, attention, attentionSettings, randn, tensor, keep, tidy, sum, mul, backward, cast, type QDevice, type Tensor } from '../src';
import { clearTape } from '../src/kernel';
import { checkOp, reference } from '../src/testing';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const attrs = (D: number, o: { causal?: boolean; hasMask?: boolean; hasSegments?: boolean } = {}) => ({
  scale: 1 / Math.sqrt(D),
  causal: o.causal ?? true,
  hasMask: o.hasMask ?? false,
  hasSegments: o.hasSegments ?? false,
});

describe('flashAttention', () => {
  it('causal GQA: forward vs float64 reference, gradients vs finite differences', async () => {
    await checkOp('flashAttention', (q, k, v) => flashAttention(q, k, v), reference('flashAttention', attrs(8)), [
      { shape: [2, 5, 4, 8] },
      { shape: [2, 5, 2, 8] },
      { shape: [2, 5, 2, 8] },
    ], { gradTol: 2e-3 });
  });
  it('the same kernels serve another batch size (nothing batch-dependent baked in)', async () => {
    await checkOp('flashAttention', (q, k, v) => flashAttention(q, k, v), reference('flashAttention', attrs(8)), [
      { shape: [3, 5, 4, 8] },
      { shape: [3, 5, 2, 8] },
      { shape: [3, 5, 2, 8] },
    ], { gradTol: 2e-3 });
  });
  it('padding mask (a left-padded row whose first queries see nothing) and several key tiles', async () => {
    // 19 keys span two 16-key tiles; row 1's first 3 keys are padding.
    const T = 19;
    const mask = [...new Array(T).fill(1), 0, 0, 0, ...new Array(T - 3).fill(1)];
    await checkOp('flashAttention', (q, k, v, m) => flashAttention(q, k, v, { mask: m }), reference('flashAttention', attrs(4, { hasMask: true })), [
      { shape: [2, T, 2, 4] },
      { shape: [2, T, 1, 4] },
      { shape: [2, T, 1, 4] },
      { shape: [2, T], data: mask, dtype: 'i32' },
    ], { gradTol: 2e-3 });
  });
  it('segments (packed samples do not attend to each other) with padding, non-causal too', async () => {
    const seg = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2];
    const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    for (const causal of [true, false]) {
      await checkOp(
        'flashAttention',
        (q, k, v, m, s) => flashAttention(q, k, v, { mask: m, segments: s, causal }),
        reference('flashAttention', attrs(8, { causal, hasMask: true, hasSegments: true })),
        [
          { shape: [2, 10, 3, 8] },
          { shape: [2, 10, 1, 8] },
          { shape: [2, 10, 1, 8] },
          { shape: [2, 10], data: mask, dtype: 'i32' },
          { shape: [2, 10], data: seg, dtype: 'i32' },
        ],
        { gradTol: 2e-3 },
      );
    }
  });
  it('segments equal a separate run per sample', async () => {
    // Row [a a a b b b b]: sample b's outputs equal attention over b alone.
    const host = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7));
    const [hq, hk, hv] = [host(7 * 2 * 8, 1), host(7 * 8, 2), host(7 * 8, 3)];
    const q = keep(tensor(hq, [1, 7, 2, 8]));
    const k = keep(tensor(hk, [1, 7, 1, 8]));
    const v = keep(tensor(hv, [1, 7, 1, 8]));
    const seg = keep(tensor([0, 0, 0, 1, 1, 1, 1], [1, 7], { dtype: 'i32' }));
    const qb = keep(tensor(hq.subarray(3 * 16), [1, 4, 2, 8]));
    const kb = keep(tensor(hk.subarray(3 * 8), [1, 4, 1, 8]));
    const vb = keep(tensor(hv.subarray(3 * 8), [1, 4, 1, 8]));
    const packed = await tidy(() => flashAttention(q, k, v, { segments: seg })).read();
    const alone = await tidy(() => flashAttention(qb, kb, vb)).read();
    const tail = packed.subarray(3 * 16);
    for (let i = 0; i < alone.length; i++) expect(tail[i]).toBeCloseTo(alone[i]!, 5);
    for (const t of [q, k, v, seg, qb, kb, vb]) t.release();
  });
  it('f16 inputs: close to the f32 result (f32 accumulation inside)', async () => {
    if (!dev.info.f16) throw new Error('this adapter lacks shader-f16');
    const q = keep(randn([2, 21, 4, 16], 5));
    const k = keep(randn([2, 21, 2, 16], 6));
    const v = keep(randn([2, 21, 2, 16], 7));
    const a = await tidy(() => flashAttention(q, k, v)).read();
    const b = await tidy(() => flashAttention(cast(q, 'f16'), cast(k, 'f16'), cast(v, 'f16'))).read();
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    expect(m).toBeLessThan(5e-3);
    for (const t of [q, k, v]) t.release();
  });
});

describe('attention() picks flash attention without a cache', () => {
  it("'auto' takes flash once P would pass flashAboveBytes, and always with segments", () => {
    const q = keep(randn([1, 8, 2, 8], 1, { requiresGrad: true }));
    const k = keep(randn([1, 8, 1, 8], 2));
    const seg = keep(tensor([0, 0, 0, 0, 1, 1, 1, 1], [1, 8], { dtype: 'i32' }));
    const op = (f: () => Tensor) => {
      const y = f();
      const name = y.node?.op;
      y.release();
      return name;
    };
    const saved = attentionSettings.flashAboveBytes;
    try {
      expect(op(() => attention(q, k, k))).not.toBe('flashAttention');
      expect(op(() => attention(q, k, k, { segments: seg }))).toBe('flashAttention');
      attentionSettings.flashAboveBytes = 8 * 8 * 2 * 4 - 1;
      expect(op(() => attention(q, k, k))).toBe('flashAttention');
    } finally {
      attentionSettings.flashAboveBytes = saved;
    }
    clearTape(); // the recorded nodes of the outputs above, never differentiated
    for (const t of [q, k, seg]) t.release();
  });

  it('matches the composed path, forward and gradients', async () => {
    const B = 2;
    const T = 9;
    const q = keep(randn([B, T, 4, 8], 1, { requiresGrad: true }));
    const k = keep(randn([B, T, 2, 8], 2, { requiresGrad: true }));
    const v = keep(randn([B, T, 2, 8], 3, { requiresGrad: true }));
    const w = keep(randn([B, T, 4, 8], 4));
    const m = keep(tensor([...new Array(T).fill(1), 0, 0, ...new Array(T - 2).fill(1)], [B, T], { dtype: 'i32' }));
    const run = async (impl: 'flash' | 'composed') => {
      const y = keep(attention(q, k, v, { mask: m, causal: true, impl }));
      const loss = keep(tidy(() => sum(mul(y, w))));
      backward(loss);
      const out = [await y.read(), ...(await Promise.all([q, k, v].map((t) => t.grad!.read())))];
      for (const t of [y, loss, q.grad!, k.grad!, v.grad!] as Tensor[]) t.release();
      for (const t of [q, k, v]) t.grad = null;
      return out;
    };
    const f = await run('flash');
    const c = await run('composed');
    f.forEach((x, i) => {
      for (let j = 0; j < x.length; j++) expect(Math.abs(x[j]! - c[i]![j]!)).toBeLessThan(1e-4);
    });
    for (const t of [q, k, v, w, m]) t.release();
  });
});
