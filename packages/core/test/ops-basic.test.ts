import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, matmul, add, mul, sub, div, sum, unary, scale, type QDevice } from '../src';
import { checkOp, reference } from '../src/testing';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe('elementwise', () => {
  for (const [name, fn] of [['add', add], ['sub', sub], ['mul', mul]] as const) {
    it(`${name} with broadcasting`, async () => {
      await checkOp(name, fn, reference(name), [{ shape: [3, 1, 5] }, { shape: [4, 1] }]);
      await checkOp(name, fn, reference(name), [{ shape: [7, 13] }, { shape: [7, 13] }]);
    });
  }
  it('div', async () => {
    const pos = Array.from({ length: 12 }, (_, i) => 0.5 + i * 0.25);
    await checkOp('div', div, reference('div'), [{ shape: [3, 4] }, { shape: [4], data: pos.slice(0, 4) }]);
  });
  for (const name of ['exp', 'silu', 'square', 'neg', 'siluGrad'] as const) {
    it(`unary ${name}`, async () => {
      await checkOp(name, (x) => unary(name, x), reference(name, { c: 0 }), [{ shape: [5, 7] }]);
    });
  }
  it('scale', async () => {
    await checkOp('scale', (x) => scale(x, -2.5), reference('scale', { c: -2.5 }), [{ shape: [33] }]);
  });
});

describe('sum', () => {
  it('all, and over axes', async () => {
    await checkOp('sum', (x) => sum(x), reference('sum', { axes: [0, 1, 2], keepDims: false }), [{ shape: [3, 5, 7] }]);
    await checkOp('sum', (x) => sum(x, [1]), reference('sum', { axes: [1], keepDims: false }), [{ shape: [3, 5, 7] }]);
    await checkOp('sum', (x) => sum(x, [0, 2], true), reference('sum', { axes: [0, 2], keepDims: true }), [{ shape: [3, 5, 7] }]);
  });
  it('a long reduction', async () => {
    await checkOp('sum', (x) => sum(x), reference('sum', { axes: [0], keepDims: false }), [{ shape: [5000] }], { tol: 1e-4 });
  });
});

describe('matmul', () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[67, 33], [33, 70], false, false],
    [[33, 67], [33, 70], true, false],
    [[67, 33], [70, 33], false, true],
    [[33, 67], [70, 33], true, true],
    [[2, 9, 17], [2, 17, 5], false, false],
    [[2, 9, 17], [5, 17], false, true],
    [[3, 17, 9], [3, 5, 17], true, true],
  ];
  for (const [sa, sb, transA, transB] of cases) {
    it(`[${sa}]${transA ? 'ᵀ' : ''} x [${sb}]${transB ? 'ᵀ' : ''}`, async () => {
      const r = await checkOp('matmul', (a, b) => matmul(a, b, { transA, transB }), reference('matmul', { transA, transB }), [
        { shape: sa },
        { shape: sb },
      ]);
      expect(r.forwardErr).toBeLessThan(1e-4);
    });
  }
  it('releases what it allocates', async () => {
    const before = dev.memory().liveBuffers;
    await checkOp('matmul', (a, b) => matmul(a, b), reference('matmul', { transA: false, transB: false }), [{ shape: [4, 4] }, { shape: [4, 4] }]);
    expect(dev.memory().liveBuffers).toBe(before);
  });
});

describe('matmul split-K', () => {
  it('a long K over a small output (an lm_head input gradient) splits K and sums', async () => {
    await checkOp('matmul', (a, b) => matmul(a, b), reference('matmul', { transA: false, transB: false }), [{ shape: [3, 9000] }, { shape: [9000, 5] }], {
      tol: 1e-4,
      noGrad: true,
    });
  });
});

describe('matmul skinny (decoding)', () => {
  for (const M of [1, 3, 8]) {
    it(`[${M}, 200] x [77, 200]ᵀ takes the GEMV path`, async () => {
      await checkOp('matmul', (a, b) => matmul(a, b, { transB: true }), reference('matmul', { transA: false, transB: true }), [
        { shape: [M, 200] },
        { shape: [77, 200] },
      ]);
    });
  }
});
