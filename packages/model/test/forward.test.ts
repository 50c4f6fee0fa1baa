import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, keep, backward, type QDevice } from '@q/core';
import { AutoModelForCausalLM, randomWeights, type CausalLM } from '../src';
import { tinyLlama, tinyQwen2 } from './tiny-configs';
import { cpuForward } from './cpu-model';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>) {
  let m = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m / scale;
}

describe.each([
  ['qwen2', tinyQwen2()],
  ['llama', tinyLlama()],
])('%s forward', (_name, cfg) => {
  const weights = randomWeights(cfg, 3, 0.2);
  let model: CausalLM;
  beforeAll(async () => {
    model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
  });
  afterAll(() => model.release());

  it('logits and loss match the float64 reference', async () => {
    const ids = [
      [5, 17, 3, 44, 9, 0, 12],
      [1, 2, 3, 4, 5, 6, 7],
    ];
    const labels = [
      [-100, -100, 3, 44, 9, 0, 12],
      [1, 2, 3, 4, 5, 6, 7],
    ];
    const ref = cpuForward(cfg, weights, ids, labels);
    const out = model.forward({ inputIds: ids, labels, returnLogits: true });
    const logits = keep(out.logits!);
    const loss = keep(out.loss!);
    const got = await logits.read();
    expect(maxRel(got, ref.logits)).toBeLessThan(1e-5);
    expect(await loss.item()).toBeCloseTo(ref.loss!, 5);
    logits.release();
    loss.release();
  });

  it('left padding does not change the real tokens’ logits', async () => {
    const ids = [3, 8, 1, 30, 2];
    const alone = keep(model.logits({ inputIds: [ids] }));
    const padded = keep(model.logits({ inputIds: [[0, 0, ...ids]], attentionMask: [[0, 0, 1, 1, 1, 1, 1]] }));
    const a = await alone.read();
    const p = (await padded.read()).slice(2 * cfg.vocabSize);
    expect(maxRel(p, a)).toBeLessThan(1e-5);
    alone.release();
    padded.release();
  });

  it('KV-cache decoding gives the same logits as a full forward', async () => {
    const ids = [4, 9, 2, 7, 11, 5];
    const full = keep(model.logits({ inputIds: [ids] }));
    const cache = model.newCache(1, 16);
    const first = keep(model.logits({ inputIds: [ids.slice(0, 4)], cache, lastOnly: true }));
    const s5 = keep(model.logits({ inputIds: [[ids[4]!]], cache, lastOnly: true }));
    const s6 = keep(model.logits({ inputIds: [[ids[5]!]], cache, lastOnly: true }));
    const f = await full.read();
    const V = cfg.vocabSize;
    expect(maxRel(await first.read(), f.slice(3 * V, 4 * V))).toBeLessThan(1e-5);
    expect(maxRel(await s5.read(), f.slice(4 * V, 5 * V))).toBeLessThan(1e-5);
    expect(maxRel(await s6.read(), f.slice(5 * V, 6 * V))).toBeLessThan(1e-5);
    for (const t of [full, first, s5, s6]) t.release();
    cache.release();
  });

  it('gradient checkpointing gives the same gradients', async () => {
    const ids = [[5, 6, 7, 8, 9]];
    const grads = async (ckpt: boolean) => {
      model.gradientCheckpointing = ckpt;
      const w = model.layers[0]!.proj.q_proj.namedParameters()[0]![1];
      w.requiresGrad = true;
      const loss = keep(model.forward({ inputIds: ids, labels: ids }).loss!);
      backward(loss);
      loss.release();
      const g = await w.grad!.read();
      w.grad!.release();
      w.grad = null;
      w.requiresGrad = false;
      return g;
    };
    const plain = await grads(false);
    const ck = await grads(true);
    model.gradientCheckpointing = false;
    expect(maxRel(ck, plain)).toBeLessThan(1e-5);
    expect(Math.max(...plain.map(Math.abs))).toBeGreaterThan(0);
  });
});
