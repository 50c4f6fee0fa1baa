import { describe, expect, it } from 'vitest';
import { ConfigError } from '@q/core';
import { LORA_DEFAULTS, validateLoraConfig } from './lora-config';
import { moduleLoraParams, scaling } from './scaling';

describe('validateLoraConfig', () => {
  it('fills peft defaults', () => {
    const cfg = validateLoraConfig({ target_modules: ['q_proj'] });
    expect(cfg).toEqual({ ...LORA_DEFAULTS, targetModules: ['q_proj'] });
    expect([cfg.r, cfg.loraAlpha, cfg.loraDropout, cfg.bias, cfg.initLoraWeights]).toEqual([8, 8, 0, 'none', true]);
  });

  it('names the field and allowed values', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ r: 0 }, /"r": expected an integer >= 1/],
      [{ lora_dropout: 1 }, /"loraDropout": expected a number in \[0, 1\)/],
      [{ bias: 'some' }, /"bias": expected one of "none", "all", "lora_only"/],
      [{ use_dora: true }, /DoRA is not supported/],
      [{ task_type: 'SEQ_CLS' }, /"taskType": expected "CAUSAL_LM"/],
      [{ init_lora_weights: 'pissa' }, /not supported for training/],
      [{ init_lora_weights: 'kaiming' }, /"initLoraWeights"/],
      [{ target_modules: '(' }, /"targetModules": expected a regular expression/],
      [{ target_modules: '.*q_proj', layers_to_transform: [0] }, /"layersToTransform": expected null when targetModules is a regex/],
      [{ target_modules: ['q_proj'], layers_pattern: 'layers' }, /"layersToTransform"/],
      [{ rank_pattern: { q_proj: 2.5 } }, /"rankPattern\["q_proj"\]"/],
      [{ target_modules: 'q_proj', extra: 1 }, /"extra"/],
    ];
    for (const [input, re] of bad) {
      expect(() => validateLoraConfig(input), JSON.stringify(input)).toThrow(ConfigError);
      expect(() => validateLoraConfig(input), JSON.stringify(input)).toThrow(re);
    }
  });

  it('loads what it would not train', () => {
    expect(validateLoraConfig({ task_type: 'SEQ_CLS', init_lora_weights: 'olora' }, { purpose: 'load' }).taskType).toBe('SEQ_CLS');
  });
});

describe('scaling', () => {
  it('alpha / r, or alpha / sqrt(r) with rslora', () => {
    expect(scaling({ loraAlpha: 32, useRslora: false }, 64)).toBe(0.5);
    expect(scaling({ loraAlpha: 16, useRslora: true }, 64)).toBe(2);
    expect(() => scaling({ loraAlpha: 16, useRslora: false }, 0)).toThrow(/rank/);
  });

  it('applies rank and alpha patterns as peft get_pattern_key does', () => {
    const cfg = validateLoraConfig({ r: 8, lora_alpha: 16, rank_pattern: { v_proj: 4 }, alpha_pattern: { 'layers\\.0\\.self_attn\\.q_proj': 2 } });
    expect(moduleLoraParams('model.layers.0.self_attn.v_proj', cfg)).toEqual({ r: 4, alpha: 16, scaling: 4 });
    expect(moduleLoraParams('model.layers.0.self_attn.xv_proj', cfg)).toEqual({ r: 8, alpha: 16, scaling: 2 });
    expect(moduleLoraParams('model.layers.0.self_attn.q_proj', cfg)).toEqual({ r: 8, alpha: 2, scaling: 0.25 });
    expect(moduleLoraParams('model.layers.10.self_attn.q_proj', cfg).alpha).toBe(16);
  });
});
