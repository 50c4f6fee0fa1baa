import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backward, getDevice, keep, matmul, mul, sum, tensor, tidy, tapeSize, type QDevice } from '@q/core';
import { matmulSettings, type CpuTensor } from '@q/core/kernel';
import { checkOp, reference } from '@q/core/testing';
import { quantizeNF4 } from '../quantize';
import { dequantizeAbsmax, dequantizeNF4 } from '../dequantize';
import { roundToFloat16 } from '../origin-dtype';
import type { QuantizeOptions } from '../quantize-options';
import { Nf4Weight } from './nf4-weight';
import { dequantizeOnGpu } from './dequantize-gpu';
import { nf4Linear, nf4LinearBackward, nf4LinearOp, nf4LinearSettings } from './nf4-linear';
import { normalData } from './test-data';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

function weight(out: number, inp: number, o: Omit<QuantizeOptions, 'shape'> = {}, seed = 3) {
  const q = quantizeNF4(normalData(out * inp, seed, 0.5), { ...o, shape: [out, inp] });
  return { q, w: Nf4Weight.upload(q) };
}

/** The op's float64 reference with the weight's (decoded) pieces as host inputs. */
function cpuRef(w: Nf4Weight, q: ReturnType<typeof weight>['q']): (x: CpuTensor) => CpuTensor {
  const ref = reference(nf4LinearOp, { w });
  const words = new Uint32Array(Math.ceil(q.packed.length / 4));
  new Uint8Array(words.buffer).set(q.packed);
  const absmax = dequantizeAbsmax(q);
  const codes = { shape: [words.length], data: Float64Array.from(words) };
  const am = { shape: [absmax.length], data: Float64Array.from(absmax) };
  return (x) => {
    const K = x.shape[x.shape.length - 1]!;
    const y = ref({ shape: [x.data.length / K, K], data: x.data }, codes, am, { shape: [16], data: Float64Array.from(q.quantMap) });
    return { shape: [...x.shape.slice(0, -1), y.shape[1]!], data: y.data };
  };
}
/** Gradient of sum(y * g) for random g: dx = g·W, in float64 from the CPU-dequantized W. */
async function expectGrad(w: Nf4Weight, W: Float32Array, xs: number[], tol: number): Promise<void> {
  const [N, K] = w.shape as [number, number];
  const M = xs.reduce((p, d) => p * d, 1) / K;
  const gd = normalData(M * N, 21);
  const x = keep(tensor(normalData(M * K, 22), xs, { requiresGrad: true }));
  const g = keep(tensor(gd, [...xs.slice(0, -1), N]));
  const loss = keep(tidy(() => sum(mul(nf4Linear(x, w), g))));
  backward(loss);
  const got = await x.grad!.read();
  let err = 0;
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += gd[m * N + n]! * W[n * K + k]!;
      err = Math.max(err, Math.abs(got[m * K + k]! - s) / (1 + Math.abs(s)));
    }
  expect(err).toBeLessThan(tol);
  for (const t of [x.grad!, x, g, loss]) t.release();
}

describe('nf4Linear (fused) against dequantize-then-matmul', () => {
  // fd: check the gradient by finite differences of the float64 reference (checkOp); the larger
  // cases compare dx = dy·W directly, which is as strict and much cheaper on the CPU.
  const cases: [string, number[], number, number, Omit<QuantizeOptions, 'shape'>, boolean][] = [
    ['in=96 (1.5 blocks per row), out=37, 5 rows', [5, 96], 37, 96, { blocksize: 64 }, true],
    ['batched [2,3,96]', [2, 3, 96], 37, 96, { blocksize: 64 }, true],
    ['in=37 (rows not word-aligned), fp4, 70 rows', [70, 37], 67, 37, { blocksize: 32, quantType: 'fp4' }, false],
    ['in=130, out=65, 66 rows, bfloat16 origin', [66, 130], 65, 130, { blocksize: 128, dtype: 'bfloat16' }, false],
  ];
  for (const [name, xs, out, inp, o, fd] of cases) {
    it(name, async () => {
      const { q, w } = weight(out, inp, o);
      const r = await checkOp('nf4Linear', (x) => nf4Linear(x, w), cpuRef(w, q), [{ shape: xs }], { tol: 2e-5, gradTol: 2e-5, noGrad: !fd });
      expect(r.forwardErr).toBeLessThan(2e-5);
      if (fd) expect(r.gradErr[0]).toBeLessThan(2e-5);
      else await expectGrad(w, dequantizeNF4(q), xs, 2e-5);
      // And against core's dense matmul on the GPU-dequantized weight.
      const x = tensor(normalData(xs.reduce((a, b) => a * b), 9), xs);
      const dense = dequantizeOnGpu(w);
      const [a, b] = await Promise.all([nf4Linear(x, w).read(), matmul(x, dense, { transB: true }).read()]);
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-4);
      for (const t of [x, dense]) t.release();
      w.release();
    });
  }

  // Both tiles over several workgroups with ragged edges, forward and backward, word-aligned rows
  // (K % 8 == 4: units in both halves of a word) and not, against the dense matmul on the GPU.
  // Split-K (f32 partial products over workgroup layers, as on a GPU when outputs are few) once.
  for (const [tile, splits] of [[64, 1], [128, 1], [64, 3]] as const)
    for (const [M, N, K] of [[150, 140, 100], [131, 70, 37]] as const)
      it(`tile ${tile}${splits > 1 ? `, K split ${splits} ways` : ''}: x [${M}, ${K}], W [${N}, ${K}], forward and dx`, async () => {
        const { w } = weight(N, K, { blocksize: 64 }, 5);
        const dense = dequantizeOnGpu(w);
        const x = tensor(normalData(M * K, 13), [M, K]);
        const gy = tensor(normalData(M * N, 14), [M, N]);
        nf4LinearSettings.tile = tile;
        if (splits > 1) matmulSettings.splitK = splits;
        try {
          const [y, yd, gx, gxd] = await Promise.all([
            nf4Linear(x, w).read(),
            matmul(x, dense, { transB: true }).read(),
            nf4LinearBackward(gy, w).read(),
            matmul(gy, dense).read(),
          ]);
          expect(Math.max(...y.map((v, i) => Math.abs(v - yd[i]!)))).toBeLessThan(1e-4);
          expect(Math.max(...gx.map((v, i) => Math.abs(v - gxd[i]!)))).toBeLessThan(1e-4);
        } finally {
          nf4LinearSettings.tile = 'auto';
          matmulSettings.splitK = 'auto';
        }
        for (const t of [x, gy, dense]) t.release();
        w.release();
      });

  it('double-quantized weight, gradient through backward() (absmax decoded again)', async () => {
    const { q, w } = weight(40, 192, { doubleQuant: true });
    const xd = normalData(3 * 192, 11);
    const x = keep(tensor(xd, [3, 192], { requiresGrad: true }));
    const loss = keep(tidy(() => sum(nf4Linear(x, w))));
    backward(loss);
    // d sum(x·Wᵀ)/dx = column sums of W (per input feature), the same for every row.
    const W = dequantizeNF4(q);
    const want = Array.from({ length: 192 }, (_, k) => Array.from({ length: 40 }, (_, n) => W[n * 192 + k]!).reduce((s, v) => s + v, 0));
    const g = await x.grad!.read();
    for (let m = 0; m < 3; m++) for (let k = 0; k < 192; k++) expect(Math.abs(g[m * 192 + k]! - want[k]!)).toBeLessThan(1e-4);
    for (const t of [x.grad!, x, loss]) t.release();
    expect(tapeSize()).toBe(0);
    w.release();
  });

  // Needs shader-f16: runs where the adapter has it, is reported as skipped (with the reason) where
  // it does not, and fails under CI when Q_REQUIRE_F16 says the CI adapter must have it.
  it('f16 activations (f16 storage, f32 accumulation)', async (ctx) => {
    if (!dev.info.f16) {
      if (process.env.Q_REQUIRE_F16) throw new Error('Q_REQUIRE_F16 is set but the adapter has no shader-f16');
      ctx.skip('the adapter has no shader-f16');
    }
    const { q, w } = weight(37, 96, {});
    const xd = normalData(2 * 5 * 96, 12).map(roundToFloat16);
    const x = keep(tensor(xd, [2, 5, 96], { dtype: 'f16', requiresGrad: true }));
    const y = keep(nf4Linear(x, w));
    expect(y.dtype).toBe('f16');
    const want = cpuRef(w, q)({ shape: [2, 5, 96], data: Float64Array.from(xd) }).data;
    const got = await y.read();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(2e-3 * (1 + Math.abs(want[i]!)));
    backward(keep(tidy(() => sum(y))));
    const g = await x.grad!.read();
    expect(x.grad!.dtype).toBe('f16');
    const W = dequantizeNF4(q);
    for (let k = 0; k < 96; k++) {
      let s = 0;
      for (let n = 0; n < 37; n++) s += W[n * 96 + k]!;
      expect(Math.abs(g[k]! - s)).toBeLessThan(2e-3 * (1 + Math.abs(s)));
    }
    for (const t of [x.grad!, x, y]) t.release();
    w.release();
  });

  it('leaves no buffers behind and rejects a mismatched input', async () => {
    const { w } = weight(16, 64, { doubleQuant: true });
    const before = dev.memory().liveBuffers;
    const x = tensor(normalData(4 * 64, 1), [2, 2, 64]);
    const y = nf4Linear(x, w);
    expect(y.shape).toEqual([2, 2, 16]);
    await y.read();
    for (const t of [x, y]) t.release();
    expect(dev.memory().liveBuffers).toBe(before);
    expect(() => nf4Linear(tensor([1, 2, 3], [1, 3]), w)).toThrow(/in-features 64/);
    w.release();
  });
});
