import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getDevice, embedding, rmsNorm, rope, ropeTables, swiglu, softmax, attention, crossEntropy, dropout, dropoutKeeps, cast,
  tensor, keep, tidy, sum, scale, backward, type QDevice,
} from '../src';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkOp, coreOps, opsOf, reference, type CpuTensor } from '../src/testing';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe('embedding', () => {
  it('gathers rows and scatter-adds repeated ids', async () => {
    const ids = [3, 0, 3, 6, 3, 1, 9];
    await checkOp('embedding', (w, i) => embedding(w, i), reference('embedding'), [
      { shape: [10, 13] },
      { shape: [7], data: ids, dtype: 'i32' },
    ]);
  });
});

describe('rmsNorm', () => {
  it('matches and differentiates in x and weight', async () => {
    await checkOp('rmsNorm', (x, w) => rmsNorm(x, w, 1e-6), reference('rmsNorm', { eps: 1e-6 }), [{ shape: [3, 5, 37] }, { shape: [37] }], {
      gradTol: 2e-3,
    });
  });
  it('stores an f16 output from f32 input (fp16 mixed precision), and differentiates through it', async () => {
    if (!dev.info.f16) throw new Error('this adapter lacks shader-f16');
    const ins = [{ shape: [4, 300] }, { shape: [300] }];
    // Forward against the reference rounded to f16 as stored; gradients against the unrounded one.
    await checkOp('rmsNorm', (x, w) => rmsNorm(x, w, 1e-6, 'f16'), reference('rmsNorm', { eps: 1e-6, out: 'f16' }), ins, { tol: 1e-6, noGrad: true });
    await checkOp('rmsNorm', (x, w) => rmsNorm(x, w, 1e-6, 'f16'), reference('rmsNorm', { eps: 1e-6 }), ins, { tol: 2e-3, gradTol: 5e-3 });
  });
  it('handles rows wider than a workgroup', async () => {
    await checkOp('rmsNorm', (x, w) => rmsNorm(x, w, 1e-5), reference('rmsNorm', { eps: 1e-5 }), [{ shape: [2, 300] }, { shape: [300] }], {
      gradTol: 2e-3,
    });
  });
});

describe('rope', () => {
  it('rotate_half layout with positions, and its backward', async () => {
    const t = ropeTables(8, 16, 10000);
    const pos = [0, 1, 2, 3, 7, 2, 3, 4];
    await checkOp(
      'rope',
      (x, c, s, p) => rope(x, c, s, p),
      reference('rope', { inverse: false }),
      [
        { shape: [2, 4, 3, 8] },
        { shape: [16, 4], data: t.cos, grad: false },
        { shape: [16, 4], data: t.sin, grad: false },
        { shape: [2, 4], data: pos, dtype: 'i32' },
      ],
    );
  });
  it('tables follow transformers: cos(p · θ^(−2i/d)) with emb = cat(freqs, freqs)', () => {
    const { cos, sin } = ropeTables(4, 3, 10000);
    // inv_freq = [1, 0.01]; position 2 -> angles [2, 0.02]
    expect(cos[2 * 2 + 0]).toBeCloseTo(Math.cos(2), 6);
    expect(sin[2 * 2 + 1]).toBeCloseTo(Math.sin(0.02), 6);
  });
});

describe('swiglu and softmax', () => {
  it('swiglu', async () => {
    await checkOp('swiglu', swiglu, reference('swiglu'), [{ shape: [4, 19] }, { shape: [4, 19] }]);
  });
  it('softmax', async () => {
    await checkOp('softmax', softmax, reference('softmax'), [{ shape: [3, 300] }]);
    await checkOp('softmax', softmax, reference('softmax'), [{ shape: [2, 3, 7] }]);
  });
});

describe('attention', () => {
  it('causal grouped-query attention with a padding mask', async () => {
    // 4 query heads share 2 KV heads; batch 1 is left-padded by two positions.
    const mask = [1, 1, 1, 1, 1, 0, 0, 1, 1, 1];
    const attrs = { scale: 1 / Math.sqrt(8), causal: true, kvLen: 5 };
    await checkOp(
      'attention',
      (q, k, v, m) => attention(q, k, v, { mask: m, causal: true }),
      reference('attention', attrs),
      [{ shape: [2, 5, 4, 8] }, { shape: [2, 5, 2, 8] }, { shape: [2, 5, 2, 8] }, { shape: [2, 5], data: mask, dtype: 'i32' }],
      { gradTol: 2e-3 },
    );
  });
  it('non-causal, no mask, odd sizes', async () => {
    const attrs = { scale: 0.3, causal: false, kvLen: 7 };
    await checkOp('attention', (q, k, v) => attention(q, k, v, { causal: false, scale: 0.3 }), reference('attention', attrs), [
      { shape: [1, 7, 3, 5] },
      { shape: [1, 7, 3, 5] },
      { shape: [1, 7, 3, 5] },
    ]);
  });
  it('decoding against a partly filled KV cache', async () => {
    // 2 new queries against the first 6 of 9 cache slots.
    const attrs = { scale: 1 / Math.sqrt(4), causal: true, kvLen: 6 };
    await checkOp('attention', (q, k, v) => attention(q, k, v, { kvLen: 6 }), reference('attention', attrs), [
      { shape: [1, 2, 2, 4] },
      { shape: [1, 9, 1, 4] },
      { shape: [1, 9, 1, 4] },
    ], { noGrad: true });
  });
});

describe('crossEntropy', () => {
  it('mean over labelled rows, ignore_index -100', async () => {
    const labels = [2, -100, 0, 10, -100, 4];
    await checkOp('crossEntropy', (x, l) => crossEntropy(x, l), reference('crossEntropy', { ignoreIndex: -100 }), [
      { shape: [6, 11] },
      { shape: [6], data: labels, dtype: 'i32' },
    ]);
  });
  it('a vocabulary wider than a workgroup, with a fixed normalizer', async () => {
    const labels = [299, 0, 150];
    await checkOp(
      'crossEntropy',
      (x, l) => crossEntropy(x, l, { normalizer: 7 }),
      reference('crossEntropy', { ignoreIndex: -100, normalizer: 7 }),
      [{ shape: [3, 300] }, { shape: [3], data: labels, dtype: 'i32' }],
    );
  });
});

describe('dropout and cast', () => {
  it('dropout keeps about 1−p, scales by 1/(1−p), and its backward reuses the mask', async () => {
    const attrs = { p: 0.25, seed: 42 };
    await checkOp('dropout', (x) => dropout(x, 0.25, 42), reference('dropout', attrs), [{ shape: [40, 50] }]);
    let kept = 0;
    for (let i = 0; i < 20000; i++) kept += dropoutKeeps(i, 0.25, 7) ? 1 : 0;
    expect(kept / 20000).toBeGreaterThan(0.73);
    expect(kept / 20000).toBeLessThan(0.77);
  });
  it('f32 -> f16 -> f32 rounds to half precision', async () => {
    const data = [1, 1 / 3, 65504, 1e-5, -2.5, 70000];
    const x = keep(tensor(data, [6]));
    const h = keep(cast(x, 'f16'));
    expect(h.dtype).toBe('f16');
    const back = await h.read();
    // 1e-5 is subnormal in half: 168 · 2⁻²⁴; 70000 overflows to +Inf.
    expect(Array.from(back)).toEqual([1, 0.333251953125, 65504, 168 * 2 ** -24, -2.5, Infinity]);
    x.release();
    h.release();
    // Rounding has no useful finite difference: the cast's gradient is checked as the identity.
    await checkOp('cast', (t) => cast(t, 'f16'), reference('cast', { to: 'f16' }), [{ shape: [9] }], { tol: 1e-3, noGrad: true });
    const a = keep(tensor([0.1, 0.2, 0.3], [3], { requiresGrad: true }));
    const loss = keep(tidy(() => sum(scale(cast(cast(a, 'f16'), 'f32'), 2))));
    backward(loss);
    expect(await a.grad!.toArray()).toEqual([2, 2, 2]);
    a.grad!.release();
    a.release();
    loss.release();
  });
});

describe('ops', () => {
  // No registry: every module under src/ops is imported here and its exports inspected, so an op
  // file added without exporting its defineOp result, or an op lacking a piece, fails this test.
  it('every op has a CPU reference, a GPU forward and a backward rule or a reason', async () => {
    const dir = fileURLToPath(new URL('../src/ops/', import.meta.url));
    const names = new Map<string, unknown>();
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const src = readFileSync(dir + f, 'utf8');
      const ops = opsOf(await import(`../src/ops/${f}`));
      if (/defineOp\s*[<(]/.test(src)) expect(ops.length, `${f} defines ops but exports none`).toBeGreaterThan(0);
      // Marked pure, so a bundler drops the ops a program never calls (sideEffects: false alone
      // cannot: the build puts every op in one chunk).
      for (const line of src.split('\n').filter((l) => /^export const \w+ = .*defineOp\b/.test(l))) {
        expect(line, `${f}: mark defineOp /* @__PURE__ */`).toContain('/* @__PURE__ */ defineOp');
      }
      for (const op of ops) {
        const { name, cpu, gpu, backward } = op.def;
        // ops/index.ts re-exports the same objects; two different ops may not share a name.
        expect(names.get(name) ?? op, `op name ${name} is used twice`).toBe(op);
        names.set(name, op);
        expect(typeof cpu, name).toBe('function');
        expect(typeof gpu, name).toBe('function');
        expect(['function', 'string'], name).toContain(typeof backward);
        expect(typeof reference(name), name).toBe('function');
      }
    }
    expect(names.size).toBeGreaterThanOrEqual(20);
    expect(coreOps().size).toBe(names.size);
  });
});
void ({} as CpuTensor);
