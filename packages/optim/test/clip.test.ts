import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, tensor, type QDevice, type Tensor } from '@q/core';
import { AdamW, adamwStepReference, clipGradNorm, clipGradNormReference, scaleGradsInPlace } from '../src';
import { delta, randomData, relErr } from './helpers';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

// One tensor large enough to need several workgroups of partial sums (and one that needs the cap).
const SIZES = [1, 37, 256 * 8 + 5, 300_000, 1_100_000];

function withGrads(sizes: number[], seed: number, std = 1): { params: Tensor[]; grads: Float32Array[] } {
  const grads = sizes.map((n, k) => randomData(n, seed + k, std));
  const params = sizes.map((n, k) => {
    const p = tensor(new Float32Array(n), [n], { requiresGrad: true });
    p.grad = tensor(grads[k]!, [n]);
    return p;
  });
  return { params, grads };
}
const free = (ps: Tensor[]) => ps.forEach((p) => (p.grad?.release(), p.release()));

describe('clipGradNorm', () => {
  it('total L2 norm and coefficient match float64, clipping active', async () => {
    const { params, grads } = withGrads(SIZES, 1);
    const want = clipGradNormReference(grads, 1.0);
    const clip = clipGradNorm(params, 1.0);
    const norm = await clip.read();
    expect(Math.abs(norm - want.norm) / want.norm).toBeLessThan(1e-5);
    expect(clip.norm.shape).toEqual([]);
    expect(await clip.isFinite()).toBe(true);
    const coef = await clip.coef.item();
    expect(Math.abs(coef - want.coef) / want.coef).toBeLessThan(1e-5);
    // torch's in-place variant
    scaleGradsInPlace(params, clip.coef);
    const g = await params[2]!.grad!.read();
    expect(relErr(g, grads[2]!.map((x) => x * coef))).toBe(0);
    clip.release();
    free(params);
  });

  it('coefficient is exactly 1 when the norm is below maxNorm; scale and missing grads', async () => {
    const { params, grads } = withGrads([10, 20], 2, 0.01);
    params.push(tensor([1, 2], [2])); // no grad: skipped
    const want = clipGradNormReference(grads, 5);
    const clip = clipGradNorm(params, 5);
    expect(Math.abs((await clip.read()) - want.norm) / want.norm).toBeLessThan(1e-6);
    expect(await clip.coef.item()).toBe(1);
    clip.release();
    const scaled = clipGradNorm(params, 5, { gradScale: 0.5 });
    expect(Math.abs((await scaled.read()) - 0.5 * want.norm) / want.norm).toBeLessThan(1e-6);
    scaled.release();
    const none = clipGradNorm([], 1);
    expect(await none.read()).toBe(0);
    expect(await none.coef.item()).toBe(1);
    none.release();
    free(params);
  });

  it('reports a non-finite norm', async () => {
    for (const bad of [Infinity, NaN]) {
      const { params } = withGrads([5, 300], 3);
      params[1]!.grad!.release();
      const g = randomData(300, 4);
      g[17] = bad;
      params[1]!.grad = tensor(g, [300]);
      const clip = clipGradNorm(params, 1);
      expect(await clip.isFinite()).toBe(false);
      clip.release();
      free(params);
    }
  });

  it('feeds AdamW its coefficient on the GPU (no host round trip)', async () => {
    const { params, grads } = withGrads([64, 3000], 5, 0.5);
    const named = params.map((p, k) => [`p${k}`, p] as [string, Tensor]);
    const hyper = { lr: 1e-2, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01 };
    const opt = new AdamW(named, hyper);
    const before = dev.memory().liveBytes;
    const clip = clipGradNorm(params, 1.0);
    opt.step({ gradScale: clip.coef });
    const { coef } = clipGradNormReference(grads, 1.0);
    expect(coef).toBeLessThan(0.1);
    for (const [k, p] of params.entries()) {
      const r = { param: new Float64Array(p.size), expAvg: new Float64Array(p.size), expAvgSq: new Float64Array(p.size), step: 0 };
      adamwStepReference(r, grads[k]!, hyper, coef);
      const sd = await opt.stateDict();
      expect(relErr(sd.state[`p${k}`]!.expAvg, r.expAvg)).toBeLessThan(1e-5);
      expect(relErr(delta(await p.read(), new Float32Array(p.size)), r.param)).toBeLessThan(1e-5);
    }
    clip.release();
    opt.release();
    // States, norm and coefficient are freed; the partial sums went back inside clipGradNorm.
    expect(dev.memory().liveBytes).toBe(before);
    free(params);
  });
});
