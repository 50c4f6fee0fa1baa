// Written by tools/golden/adamw_golden.py with torch.optim.AdamW; compared when present.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonFixture } from '@q/core/testing';
import { fileURLToPath } from 'node:url';
import { getDevice, tensor, type QDevice, type Tensor } from '@q/core';
import { AdamW, clipGradNorm, type AdamWConfig } from '../src';
import { delta, relErr } from './helpers';

const GOLDEN = fileURLToPath(new URL('../fixtures/adamw-golden.json', import.meta.url));

interface GoldenStep {
  lr: number;
  grads: Record<string, number[]>;
  gradNorm?: number;
  params: Record<string, number[]>;
  expAvg: Record<string, number[]>;
  expAvgSq: Record<string, number[]>;
}
interface GoldenCase {
  name: string;
  config: Pick<AdamWConfig, 'lr' | 'betas' | 'eps' | 'weightDecay'>;
  maxNorm: number | null;
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  steps: GoldenStep[];
}

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev?.dispose());

const golden = readJsonFixture<{ cases: GoldenCase[] }>(GOLDEN, 'python tools/golden/adamw_golden.py (or bash tools/golden/run-all.sh on a machine with torch + transformers + peft, then tools/golden/install-fixtures.sh)');
describe.skipIf(!golden)('AdamW vs torch.optim.AdamW golden', () => {
  const cases: GoldenCase[] = golden?.cases ?? [];
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const params: [string, Tensor][] = Object.entries(c.shapes).map(([n, shape]) => [n, tensor(c.init[n]!, shape, { requiresGrad: true })]);
    const opt = new AdamW(params, c.config);
    for (const [t, s] of c.steps.entries()) {
      for (const [n, p] of params) p.grad = tensor(s.grads[n]!, [...p.shape]);
      const clip = c.maxNorm !== null ? clipGradNorm(opt.parameters(), c.maxNorm) : null;
      opt.step({ lr: s.lr, gradScale: clip?.coef });
      if (clip) {
        const norm = await clip.read();
        if (Math.abs(norm - s.gradNorm!) > 1e-6 * s.gradNorm!) throw new Error(`${c.name} step ${t + 1}: grad norm ${norm}, torch ${s.gradNorm}`);
        clip.release();
      }
      opt.zeroGrad();
      const sd = await opt.stateDict();
      for (const [n, p] of params) {
        const got = await p.read();
        const e = {
          param: relErr(got, s.params[n]!),
          update: relErr(delta(got, c.init[n]!), delta(s.params[n]!, c.init[n]!)),
          expAvg: relErr(sd.state[n]!.expAvg, s.expAvg[n]!),
          expAvgSq: relErr(sd.state[n]!.expAvgSq, s.expAvgSq[n]!),
        };
        if (process.env.Q_TRACE) console.log(c.name, t + 1, n, e);
        if (!(e.param <= 1e-6 && e.update <= 5e-6 && e.expAvg <= 1e-6 && e.expAvgSq <= 1e-6)) {
          throw new Error(`${c.name} step ${t + 1} ${n}: ${JSON.stringify(e)}`);
        }
      }
    }
    expect(opt.stepCount).toBe(c.steps.length);
    opt.release();
    for (const [, p] of params) p.release();
  });
});
