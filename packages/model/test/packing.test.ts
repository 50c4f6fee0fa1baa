// Padding-free packing: samples concatenated in one row with positionIds restarting at 0 give the
// same logits and summed loss as the samples run one by one (no attention across samples, no
// loss across the boundary), with and without gradient checkpointing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, keep, type QDevice } from '@q/core';
import { AutoModelForCausalLM, randomWeights, type CausalLM } from '../src';
import { tinyQwen2 } from './tiny-configs';

let dev: QDevice;
let model: CausalLM;
beforeAll(async () => {
  dev = await getDevice();
  const cfg = tinyQwen2();
  model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 3, 0.2) });
});
afterAll(() => {
  model.release();
  dev.dispose();
});

const A = [5, 17, 3, 44];
const B = [9, 1, 2, 30, 7];

async function run(o: Parameters<CausalLM['forward']>[0]): Promise<{ loss: number; logits: Float32Array }> {
  const out = model.forward({ ...o, returnLogits: true, lossNormalizer: 1 });
  const loss = keep(out.loss!);
  const logits = keep(out.logits!);
  const r = { loss: await loss.item(), logits: (await logits.read()) as Float32Array };
  loss.release();
  logits.release();
  return r;
}

describe('padding-free packing (positionIds)', () => {
  for (const ckpt of [false, true]) {
    it(`packed row equals separate samples${ckpt ? ' (checkpointing)' : ''}`, async () => {
      model.gradientCheckpointing = ckpt;
      const a = await run({ inputIds: [A], labels: [A] });
      const b = await run({ inputIds: [B], labels: [B] });
      const p = await run({ inputIds: [[...A, ...B]], labels: [[...A, ...B]], positionIds: [[0, 1, 2, 3, 0, 1, 2, 3, 4]] });
      expect(p.loss).toBeCloseTo(a.loss + b.loss, 4);
      const both = [...a.logits, ...b.logits];
      let m = 0;
      for (let i = 0; i < both.length; i++) m = Math.max(m, Math.abs(both[i]! - p.logits[i]!));
      expect(m).toBeLessThan(1e-4);
      model.gradientCheckpointing = false;
    });
  }
  it('rejects positionIds with a KV cache', () => {
    const cache = model.newCache(1, 16);
    expect(() => model.forward({ inputIds: [A], positionIds: [[0, 1, 2, 3]], cache })).toThrow(/KV cache/);
    cache.release();
  });
});
