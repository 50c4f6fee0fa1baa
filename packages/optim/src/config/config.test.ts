import { describe, expect, it } from 'vitest';
import { ConfigError } from '@q/core';
import { ADAMW_DEFAULTS, validateAdamWConfig } from './adamw-config';
import { resolveOptim } from './optim-name';

describe('validateAdamWConfig', () => {
  it('fills TrainingArguments defaults', () => {
    expect(validateAdamWConfig()).toEqual({ lr: 5e-5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false });
    expect(ADAMW_DEFAULTS.weightDecay).toBe(0);
  });
  it('accepts snake_case and overrides', () => {
    expect(validateAdamWConfig({ lr: 2e-4, weight_decay: 0.01, betas: [0.8, 0.95] })).toEqual({
      lr: 2e-4,
      betas: [0.8, 0.95],
      eps: 1e-8,
      weightDecay: 0.01,
      amsgrad: false,
    });
  });
  it('names the bad field', () => {
    expect(() => validateAdamWConfig({ amsgrad: true })).toThrow(/"amsgrad".*not implemented/);
    expect(() => validateAdamWConfig({ betas: [0.9, 1] })).toThrow(/"betas\[1\]".*\[0, 1\)/);
    expect(() => validateAdamWConfig({ betas: [0.9] })).toThrow(/"betas"/);
    expect(() => validateAdamWConfig({ lr: -1 })).toThrow(ConfigError);
    expect(() => validateAdamWConfig({ weight_decy: 0.1 })).toThrow(/did you mean "weightDecay"/);
  });
});

describe('resolveOptim', () => {
  it('maps AdamW variants with honest warnings', () => {
    expect(resolveOptim('adamw_torch')).toEqual({ name: 'adamw_torch', optimizer: 'adamw', warnings: [] });
    const paged8 = resolveOptim('paged_adamw_8bit');
    expect(paged8.optimizer).toBe('adamw');
    expect(paged8.warnings).toHaveLength(2);
    expect(paged8.warnings[0]).toMatch(/^optim "paged_adamw_8bit" does not page/);
    expect(resolveOptim('paged_adamw_32bit').warnings).toHaveLength(1);
  });
  it('refuses other optimizers, listing the accepted names', () => {
    expect(() => resolveOptim('adafactor')).toThrow(/"optim".*"adamw_torch"/);
    expect(() => resolveOptim(3)).toThrow(ConfigError);
  });
});
