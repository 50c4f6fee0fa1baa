import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, tensor, type QDevice, type Tensor, ValueError, ConfigError } from '@q/core';
import { AdamW, adamwStepReference, type AdamWReferenceState } from '../src';
import { delta, randomData, relErr } from './helpers';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const SHAPES: Record<string, number[]> = { 'layer.w': [7, 13], 'layer.b': [33], big: [5, 300] };

function setup(seed: number) {
  const init: Record<string, Float32Array> = {};
  const params: [string, Tensor][] = Object.entries(SHAPES).map(([name, shape], k) => {
    init[name] = randomData(shape.reduce((a, b) => a * b, 1), seed + k, 0.1);
    return [name, tensor(init[name]!, shape, { requiresGrad: true, name })];
  });
  const ref: Record<string, AdamWReferenceState> = Object.fromEntries(
    Object.entries(init).map(([n, d]) => [n, { param: Float64Array.from(d), expAvg: new Float64Array(d.length), expAvgSq: new Float64Array(d.length), step: 0 }]),
  );
  return { params, ref, init };
}

function setGrads(params: [string, Tensor][], step: number, seed: number): Record<string, Float32Array> {
  const gs: Record<string, Float32Array> = {};
  params.forEach(([name, p], k) => {
    gs[name] = randomData(p.size, 1000 * seed + 10 * step + k);
    p.grad?.release();
    p.grad = tensor(gs[name]!, [...p.shape]);
  });
  return gs;
}

async function compare(opt: AdamW, params: [string, Tensor][], ref: Record<string, AdamWReferenceState>, init: Record<string, Float32Array>) {
  const sd = await opt.stateDict();
  const errs = { param: 0, update: 0, expAvg: 0, expAvgSq: 0 };
  for (const [name, p] of params) {
    const r = ref[name]!;
    const got = await p.read();
    errs.param = Math.max(errs.param, relErr(got, r.param));
    // The update p − p0 is what the optimizer computes; p itself hides its errors. Its error is
    // bounded below by storing p in f32 (one ulp of |p| ≈ 0.4 is 3e-8, against updates ≈ 1e-2).
    errs.update = Math.max(errs.update, relErr(delta(got, init[name]!), delta(r.param, init[name]!)));
    errs.expAvg = Math.max(errs.expAvg, relErr(sd.state[name]!.expAvg, r.expAvg));
    errs.expAvgSq = Math.max(errs.expAvgSq, relErr(sd.state[name]!.expAvgSq, r.expAvgSq));
    expect(sd.state[name]!.step).toBe(r.step);
  }
  return errs;
}

describe('AdamW vs float64 torch formula', () => {
  for (const weightDecay of [0, 0.1]) {
    it(`6 steps, lr changing per step, weightDecay ${weightDecay}`, async () => {
      const { params, ref, init } = setup(1);
      const hyper = { lr: 1e-2, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay };
      const opt = new AdamW(params, hyper);
      const lrs = [1e-2, 5e-3, 2e-2, 1e-3, 3e-2, 7e-3];
      for (let t = 0; t < lrs.length; t++) {
        const gs = setGrads(params, t, 1);
        opt.step(lrs[t]);
        for (const [name] of params) adamwStepReference(ref[name]!, gs[name]!, { ...hyper, lr: lrs[t]! });
        const e = await compare(opt, params, ref, init);
        if (process.env.Q_TRACE) console.log(weightDecay, t, e);
        if (!(e.param <= 1e-6 && e.update <= 5e-6 && e.expAvg <= 1e-6 && e.expAvgSq <= 1e-6)) throw new Error(`step ${t + 1}: ${JSON.stringify(e)}`);
      }
      expect(opt.stepCount).toBe(lrs.length);
      opt.release();
      for (const [, p] of params) (p.grad?.release(), p.release());
    });
  }

  it('folds a gradient scale (number and GPU tensor) into the update; betas other than the default', async () => {
    const { params, ref, init } = setup(2);
    const hyper = { lr: 2e-2, betas: [0.8, 0.95] as [number, number], eps: 1e-6, weightDecay: 0.05 };
    const opt = new AdamW(params, hyper);
    const coef = tensor([0.3], [1]);
    for (let t = 0; t < 4; t++) {
      const gs = setGrads(params, t, 2);
      // steps 0, 2: a number; 1: a tensor; 3: both (0.5 then 0.3)
      const scale = [0.25, 0.3, 4, 0.5 * 0.3][t]!;
      if (t === 1) opt.step({ gradScale: coef });
      else if (t === 3) opt.step({ gradScale: 0.5, gradScaleTensor: coef });
      else opt.step({ gradScale: scale });
      for (const [name] of params) adamwStepReference(ref[name]!, gs[name]!, hyper, scale);
    }
    const e = await compare(opt, params, ref, init);
    if (process.env.Q_TRACE) console.log(e);
    expect(e.param).toBeLessThan(1e-6);
    expect(e.update).toBeLessThan(5e-6);
    expect(e.expAvg).toBeLessThan(1e-6);
    expect(e.expAvgSq).toBeLessThan(1e-6);
    coef.release();
    opt.release();
    for (const [, p] of params) (p.grad?.release(), p.release());
  });

  it('skips parameters without a gradient, keeping a step count per parameter', async () => {
    const { params } = setup(3);
    const opt = new AdamW(params, { lr: 1e-3 });
    setGrads(params, 0, 3);
    params[1]![1].grad!.release();
    params[1]![1].grad = null;
    const before = await params[1]![1].read();
    opt.step();
    const sd = await opt.stateDict();
    expect(Object.keys(sd.state).sort()).toEqual(['big', 'layer.w']);
    expect(await params[1]![1].read()).toEqual(before);
    opt.zeroGrad();
    for (const [, p] of params) expect(p.grad).toBeNull();
    opt.release();
    for (const [, p] of params) p.release();
  });
});

describe('AdamW state dict', () => {
  it('resumes bit-identically', async () => {
    const a = setup(4);
    const optA = new AdamW(a.params, { lr: 1e-2, weightDecay: 0.01 });
    for (let t = 0; t < 3; t++) (setGrads(a.params, t, 4), optA.step(1e-2 / (t + 1)));
    const sd = await optA.stateDict();
    // Round trip through JSON, as a checkpoint file would.
    const json = JSON.parse(JSON.stringify(sd, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)));
    const b = setup(5);
    for (const [name, p] of b.params) {
      p.release();
      const src = a.params.find(([n]) => n === name)![1];
      b.params.find(([n]) => n === name)![1] = tensor((await src.read()) as Float32Array, [...src.shape], { requiresGrad: true });
    }
    const optB = new AdamW(b.params, { lr: 1e-2, weightDecay: 0.01 });
    optB.loadStateDict(json);
    expect(optB.stepCount).toBe(3);
    for (let t = 3; t < 5; t++) {
      setGrads(a.params, t, 4);
      setGrads(b.params, t, 4);
      optA.step(1e-2 / (t + 1));
      optB.step(1e-2 / (t + 1));
    }
    const [sa, sb] = [await optA.stateDict(), await optB.stateDict()];
    for (const [name, p] of a.params) {
      const q = b.params.find(([n]) => n === name)![1];
      expect(Buffer.from((await q.read()).buffer).equals(Buffer.from((await p.read()).buffer))).toBe(true);
      expect(sb.state[name]!.step).toBe(5);
      expect(Buffer.from(sb.state[name]!.expAvg.buffer).equals(Buffer.from(sa.state[name]!.expAvg.buffer))).toBe(true);
      expect(Buffer.from(sb.state[name]!.expAvgSq.buffer).equals(Buffer.from(sa.state[name]!.expAvgSq.buffer))).toBe(true);
    }
    expect(() => optB.loadStateDict({ ...sd, state: { nope: sd.state['big']! } })).toThrow(/no parameter named "nope"/);
    expect(() => optB.loadStateDict({ ...sd, state: { big: { ...sd.state['big']!, expAvg: new Float32Array(3) } } })).toThrow(ValueError);
    optA.release();
    optB.release();
    for (const [, p] of [...a.params, ...b.params]) (p.grad?.release(), p.release());
  });
});

describe('AdamW memory and checks', () => {
  it('allocates states lazily and frees them on release()', async () => {
    const { params } = setup(6);
    const opt = new AdamW(params, { lr: 1e-3 });
    setGrads(params, 0, 6);
    const base = dev.memory().liveBytes;
    expect(opt.stateBytes()).toBe(0);
    opt.step();
    const elems = params.reduce((a, [, p]) => a + p.size, 0);
    expect(opt.stateBytes()).toBe(2 * 4 * elems);
    expect(dev.memory().liveBytes).toBeGreaterThanOrEqual(base + 2 * 4 * elems);
    opt.step();
    const after2 = dev.memory().liveBytes;
    opt.zeroGrad();
    const gradBytes = after2 - dev.memory().liveBytes;
    expect(gradBytes).toBeGreaterThanOrEqual(4 * elems);
    opt.release();
    expect(dev.memory().liveBytes).toBe(base - gradBytes);
    expect(opt.stateBytes()).toBe(0);
    expect(() => opt.step()).toThrow(/after release/);
    for (const [, p] of params) p.release();
  });

  it('refuses bad parameters and configs', () => {
    const p = tensor([1, 2], [2], { dtype: 'i32' });
    expect(() => new AdamW([['x', p]])).toThrow(/only f32 parameters/);
    const q = tensor([1, 2], [2]);
    expect(() => new AdamW([['x', q], ['x', q]])).toThrow(/appears twice/);
    expect(() => new AdamW([['x', q]], { betas: [0.9, 1] })).toThrow(ConfigError);
    q.grad = tensor([1, 2, 3], [3]);
    expect(() => new AdamW([['x', q]]).step()).toThrow(/gradient of "x"/);
    for (const t of [p, q.grad, q]) t.release();
  });
});
