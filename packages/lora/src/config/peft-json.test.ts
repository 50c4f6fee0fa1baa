import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, FormatError } from '@q/core';
import { validateLoraConfig } from './lora-config';
import { loraConfigFromJson, loraConfigToJson, loraConfigToJsonString } from './peft-json';

// The key set and layout of a peft 0.19.1 save_pretrained for the tutorial's LoraConfig
// (r=64, lora_alpha=32, lora_dropout=0.1, target_modules=['k_proj', 'v_proj', 'q_proj']).
const FIXTURE = readFileSync(
  fileURLToPath(new URL('../../fixtures/adapter_config.peft-0.19.1.json', import.meta.url)),
  'utf8',
);

describe('adapter_config.json', () => {
  const tutorial = { lora_alpha: 32, lora_dropout: 0.1, r: 64, bias: 'none', task_type: 'CAUSAL_LM', target_modules: ['k_proj', 'v_proj', 'q_proj'] };

  it('writes the keys, values and layout peft writes', () => {
    const cfg = validateLoraConfig(tutorial);
    expect(loraConfigToJson(cfg, 'Qwen/Qwen2.5-0.5B-Instruct')).toEqual(JSON.parse(FIXTURE));
    expect(loraConfigToJsonString(cfg, 'Qwen/Qwen2.5-0.5B-Instruct')).toBe(FIXTURE.trimEnd());
  });

  it('reads peft output back to the same config', () => {
    const cfg = loraConfigFromJson(FIXTURE);
    expect(cfg).toMatchObject({
      r: 64,
      loraAlpha: 32,
      loraDropout: 0.1,
      targetModules: ['k_proj', 'q_proj', 'v_proj'],
      bias: 'none',
      taskType: 'CAUSAL_LM',
      inferenceMode: true,
      baseModelNameOrPath: 'Qwen/Qwen2.5-0.5B-Instruct',
      useRslora: false,
    });
    expect(loraConfigToJson(cfg)).toEqual(JSON.parse(FIXTURE));
  });

  it('reads an old peft file with keys since removed, and a regex target', () => {
    const old = { peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 16, lora_alpha: 16, lora_dropout: 0.05, target_modules: '.*\\.(q|v)_proj', enable_lora: null, merge_weights: false, inference_mode: true };
    const cfg = loraConfigFromJson(old);
    expect(cfg.targetModules).toBe('.*\\.(q|v)_proj');
    expect(cfg.r).toBe(16);
  });

  it('accepts data-driven inits when loading (they no longer matter)', () => {
    expect(loraConfigFromJson({ r: 8, init_lora_weights: 'pissa_niter_4', target_modules: ['q_proj'] }).initLoraWeights).toBe('pissa_niter_4');
  });

  it('refuses what would change the forward pass, naming the key', () => {
    expect(() => loraConfigFromJson({ ...JSON.parse(FIXTURE), use_dora: true })).toThrow(/"useDora".*DoRA is not supported/);
    expect(() => loraConfigFromJson({ ...JSON.parse(FIXTURE), lora_bias: true })).toThrow(/"lora_bias"/);
    expect(() => loraConfigFromJson({ ...JSON.parse(FIXTURE), trainable_token_indices: [1, 2] })).toThrow(/trainable tokens/);
    expect(() => loraConfigFromJson({ ...JSON.parse(FIXTURE), peft_type: 'IA3' })).toThrow(/"peft_type"/);
    expect(() => loraConfigFromJson({ ...JSON.parse(FIXTURE), new_feature: { on: true } })).toThrow(ConfigError);
    expect(() => loraConfigFromJson({ r: 8, lora_alpah: 16 })).toThrow(/did you mean "loraAlpha"/);
  });

  it('reports malformed files as FormatError', () => {
    expect(() => loraConfigFromJson('{"r": 8,', 'a/adapter_config.json')).toThrow(FormatError);
    expect(() => loraConfigFromJson('[1]')).toThrow(/adapter_config.json: expected a JSON object/);
  });
});
