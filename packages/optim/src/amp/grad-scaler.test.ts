// Scale trajectories of torch.amp.GradScaler from tools/golden/grad_scaler_golden.py, step by step.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GradScaler } from './grad-scaler';

interface Step {
  found_inf: boolean;
  ran: boolean;
  scale: number;
  growth_tracker: number;
}
interface Case {
  name: string;
  options: { init_scale?: number; growth_factor?: number; backoff_factor?: number; growth_interval?: number };
  pattern: string;
  steps: Step[];
}

const golden = JSON.parse(readFileSync(fileURLToPath(new URL('../../fixtures/grad-scaler-golden.json', import.meta.url)), 'utf8')) as { cases: Case[] };

describe('GradScaler follows torch.amp.GradScaler', () => {
  it('has the fixture cases', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(5);
  });
  for (const c of golden.cases) {
    it(c.name, () => {
      const o = c.options;
      const s = new GradScaler({ initScale: o.init_scale, growthFactor: o.growth_factor, backoffFactor: o.backoff_factor, growthInterval: o.growth_interval });
      c.steps.forEach((want, i) => {
        const ran = s.update(want.found_inf);
        const got = { ran, scale: s.getScale(), tracker: s.growthTracker };
        expect(got, `${c.name} step ${i}`).toEqual({ ran: want.ran, scale: want.scale, tracker: want.growth_tracker });
      });
    });
  }

  it('defaults are 2^16, x2 after 2000 clean steps, x0.5 on inf', () => {
    const s = new GradScaler();
    expect(s.getScale()).toBe(65536);
    for (let i = 0; i < 1999; i++) s.update(false);
    expect(s.getScale()).toBe(65536);
    s.update(false);
    expect(s.getScale()).toBe(131072);
    expect(s.update(true)).toBe(false);
    expect(s.getScale()).toBe(65536);
    expect(s.invScale()).toBe(2 ** -16);
  });

  it('round-trips its state dict with torch key names, and a restored scaler continues the same trajectory', () => {
    const a = new GradScaler({ growthInterval: 3 });
    for (const f of [true, false, false]) a.update(f);
    const sd = a.stateDict();
    expect(sd).toEqual({ scale: 32768, growth_factor: 2, backoff_factor: 0.5, growth_interval: 3, _growth_tracker: 2 });
    const b = new GradScaler();
    b.loadStateDict(JSON.parse(JSON.stringify(sd)));
    a.update(false);
    b.update(false);
    expect(b.getScale()).toBe(65536);
    expect(b.stateDict()).toEqual(a.stateDict());
  });

  it('disabled: scale 1, never skips, empty state', () => {
    const s = new GradScaler({ enabled: false });
    expect(s.getScale()).toBe(1);
    expect(s.update(true)).toBe(true);
    expect(s.stateDict()).toEqual({});
  });

  it('rejects bad options, naming them', () => {
    expect(() => new GradScaler({ growthFactor: 1 })).toThrow(/growthFactor/);
    expect(() => new GradScaler({ backoffFactor: 1 })).toThrow(/backoffFactor/);
    expect(() => new GradScaler({ growthInterval: 0 })).toThrow(/growthInterval/);
  });
});
