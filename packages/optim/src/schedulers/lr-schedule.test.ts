import { describe, expect, it } from 'vitest';
import { readJsonFixture } from '@q/core/testing';
import { fileURLToPath } from 'node:url';
import { ConfigError, ValueError } from '@q/core';
import { lrSchedule } from './lr-schedule';
import { resolveWarmupSteps } from './warmup';
import type { LrScheduleOptions } from './types';

// Expected values are derived by hand from transformers' lambdas (optimization.py), lr = 1 unless noted.
const at = (opts: LrScheduleOptions, steps: number[]) => steps.map(lrSchedule(opts));

describe('lrSchedule formulas', () => {
  it('linear: 0 at step 0, peak at warmup end, 0 at and after total', () => {
    const v = at({ type: 'linear', learningRate: 1, numTrainingSteps: 10, warmupSteps: 2 }, [0, 1, 2, 6, 10, 12]);
    expect(v).toEqual([0, 0.5, 1, 0.5, 0, 0]);
  });

  it('cosine: half wave by default, and keeps turning past total as transformers does', () => {
    const v = at({ type: 'cosine', learningRate: 1, numTrainingSteps: 4 }, [0, 1, 2, 4, 6]);
    expect(v[0]).toBe(1);
    expect(v[1]).toBeCloseTo(0.5 + Math.SQRT2 / 4, 15);
    expect(v[2]).toBeCloseTo(0.5, 15);
    expect(v[3]).toBe(0);
    expect(v[4]).toBeCloseTo(0.5, 15);
  });

  it('cosine_with_restarts: restarts at each cycle, 0 from total on', () => {
    const v = at({ type: 'cosine_with_restarts', learningRate: 1, numTrainingSteps: 10, numCycles: 2 }, [2, 5, 10]);
    expect(v[0]).toBeCloseTo(0.5 * (1 + Math.cos(0.4 * Math.PI)), 15);
    expect(v[1]).toBe(1);
    expect(v[2]).toBe(0);
    // default num_cycles = 1 is a single half cosine
    expect(lrSchedule({ type: 'cosine_with_restarts', learningRate: 1, numTrainingSteps: 10 })(5)).toBeCloseTo(0.5, 15);
  });

  it('polynomial: defaults power 1 and lr_end 1e-7, lr_end after total', () => {
    const lr = 1e-3;
    const v = at({ type: 'polynomial', learningRate: lr, numTrainingSteps: 10 }, [0, 5, 10, 11]);
    expect(v[0]).toBeCloseTo(lr, 18);
    expect(v[1]).toBeCloseTo((lr - 1e-7) * 0.5 + 1e-7, 18);
    expect(v[2]).toBeCloseTo(1e-7, 18);
    expect(v[3]).toBeCloseTo(1e-7, 18);
    const sq = lrSchedule({ type: 'polynomial', learningRate: lr, numTrainingSteps: 10, power: 2 })(5);
    expect(sq).toBeCloseTo((lr - 1e-7) * 0.25 + 1e-7, 18);
  });

  it('constant and constant_with_warmup', () => {
    expect(at({ type: 'constant', learningRate: 3e-4 }, [0, 100])).toEqual([3e-4, 3e-4]);
    expect(at({ type: 'constant_with_warmup', learningRate: 1, warmupSteps: 4 }, [0, 1, 4, 99])).toEqual([0, 0.25, 1, 1]);
  });

  it('inverse_sqrt: timescale = warmup, or 10000 without warmup', () => {
    expect(at({ type: 'inverse_sqrt', learningRate: 1, warmupSteps: 4 }, [2, 4, 16])).toEqual([0.5, 1, 0.5]);
    expect(lrSchedule({ type: 'inverse_sqrt', learningRate: 1 })(30_000)).toBeCloseTo(1 / Math.sqrt(4), 15);
  });

  it('cosine_with_min_lr and cosine_warmup_with_min_lr', () => {
    const v = at({ type: 'cosine_with_min_lr', learningRate: 1, numTrainingSteps: 2, minLrRate: 0.1 }, [1, 2]);
    expect(v[0]).toBeCloseTo(0.55, 15);
    expect(v[1]).toBeCloseTo(0.1, 15);
    const byAbs = lrSchedule({ type: 'cosine_with_min_lr', learningRate: 2, numTrainingSteps: 2, min_lr: 0.2 } as never)(2);
    expect(byAbs).toBeCloseTo(0.2, 15);
    const w = at({ type: 'cosine_warmup_with_min_lr', learningRate: 1, numTrainingSteps: 10, warmupSteps: 2, minLrRate: 0 }, [0, 1, 2]);
    expect(w[0]).toBe(0.5);
    expect(w[1]).toBe(1);
    expect(w[2]).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 8)), 15);
  });

  it('warmup_stable_decay: warmup, flat, decay, floor', () => {
    const base = { type: 'warmup_stable_decay', learningRate: 1, numTrainingSteps: 10, warmupSteps: 2, numDecaySteps: 2 } as const;
    expect(at({ ...base, decayType: 'linear' }, [1, 5, 8, 9, 10])).toEqual([0.5, 1, 1, 0.5, 0]);
    expect(lrSchedule(base)(9)).toBeCloseTo(0.5, 15);
    expect(lrSchedule({ ...base, minLrRatio: 0.1 })(12)).toBe(0.1);
  });
});

describe('warmup resolution', () => {
  it('rounds ratios up like math.ceil on the same float64 product', () => {
    expect(resolveWarmupSteps({ warmupRatio: 0.07, numTrainingSteps: 100 })).toBe(8); // 100*0.07 = 7.000000000000001
    expect(resolveWarmupSteps({ warmupRatio: 0.03, numTrainingSteps: 1000 })).toBe(30);
    expect(resolveWarmupSteps({ warmupSteps: 0.5, numTrainingSteps: 9 })).toBe(5);
    expect(resolveWarmupSteps({ warmupSteps: 7, warmupRatio: 0.5, numTrainingSteps: 100 })).toBe(7);
    expect(resolveWarmupSteps({})).toBe(0);
  });
  it('refuses a ratio without a total, and fractional step counts above 1', () => {
    expect(() => resolveWarmupSteps({ warmupRatio: 0.1 })).toThrow(ConfigError);
    expect(() => resolveWarmupSteps({ warmupSteps: 2.5 })).toThrow(/warmupSteps/);
  });
});

describe('lrSchedule errors', () => {
  it('names the field and allowed values', () => {
    expect(() => lrSchedule({ type: 'reduce_lr_on_plateau', learningRate: 1 })).toThrow(/not supported/);
    expect(() => lrSchedule({ type: 'bogus' as never, learningRate: 1 })).toThrow(/"type".*one of "linear"/);
    expect(() => lrSchedule({ type: 'linear', learningRate: 1, numTrainingSteps: 5, numCycles: 2 })).toThrow(
      /no "numCycles" for type "linear"/,
    );
    expect(() => lrSchedule({ type: 'linear', learningRate: 1 })).toThrow(/numTrainingSteps/);
    expect(() => lrSchedule({ type: 'polynomial', learningRate: 1e-8, numTrainingSteps: 5 })).toThrow(/lrEnd/);
    expect(() => lrSchedule({ type: 'cosine', learningRate: 1, numTrainingSteps: 5, num_cycle: 1 } as never)).toThrow(
      /did you mean "numCycles"/,
    );
    expect(() => lrSchedule({ type: 'cosine_with_min_lr', learningRate: 1, numTrainingSteps: 5 })).toThrow(/minLrRate/);
    expect(() => lrSchedule({ type: 'constant', learningRate: 1 })(-1)).toThrow(ValueError);
  });
});

// Written by tools/golden/schedulers_golden.py with torch + transformers; compared when present.
const GOLDEN = fileURLToPath(new URL('../../fixtures/schedulers-golden.json', import.meta.url));

interface GoldenCase {
  name: string;
  options: LrScheduleOptions;
  lrs: number[];
}

const golden = readJsonFixture<{ cases: GoldenCase[] }>(GOLDEN, 'python tools/golden/schedulers_golden.py (or bash tools/golden/run-all.sh on a machine with torch + transformers + peft, then tools/golden/install-fixtures.sh)');
describe.skipIf(!golden)('lrSchedule vs transformers golden', () => {
  const cases: GoldenCase[] = golden?.cases ?? [];
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const fn = lrSchedule(c.options);
    let worst = 0;
    c.lrs.forEach((want, step) => {
      const got = fn(step);
      const rel = Math.abs(got - want) / Math.max(Math.abs(want), 1e-300);
      if (want === 0 ? got !== 0 && Math.abs(got) > 1e-20 : rel > 1e-12) {
        throw new Error(`${c.name} step ${step}: got ${got}, transformers ${want} (rel diff ${rel})`);
      }
      worst = Math.max(worst, want === 0 ? 0 : rel);
    });
    expect(worst).toBeLessThanOrEqual(1e-12);
  });
});
