import { describe, expect, it } from 'vitest';
import { ConfigError } from '@q/core';
import { validateLoraConfig } from './lora-config';
import { defaultTargetModules, matchesTargetModule } from './target-modules';

const Q = 'model.layers.0.self_attn.q_proj';

describe('matchesTargetModule (peft check_target_module_exists)', () => {
  it('list targets match exact names and dot-suffixes only', () => {
    const cfg = validateLoraConfig({ target_modules: ['q_proj', 'self_attn.v_proj'] });
    expect(matchesTargetModule(Q, cfg)).toBe(true);
    expect(matchesTargetModule('model.layers.0.self_attn.v_proj', cfg)).toBe(true);
    expect(matchesTargetModule('model.layers.0.mlp.v_proj', cfg)).toBe(false);
    expect(matchesTargetModule('model.layers.0.self_attn.xq_proj', cfg)).toBe(false);
    expect(matchesTargetModule('model.layers.0.self_attn.k_proj', cfg)).toBe(false);
    expect(matchesTargetModule('q_proj', cfg)).toBe(true);
  });

  it('a string target is a regex that must match the whole name', () => {
    const cfg = validateLoraConfig({ target_modules: '.*\\.(q|v)_proj' });
    expect(matchesTargetModule(Q, cfg)).toBe(true);
    expect(matchesTargetModule(`${Q}.lora_A`, cfg)).toBe(false);
    expect(matchesTargetModule('q_proj', cfg)).toBe(false);
    const named = validateLoraConfig({ target_modules: '.*\\.(?P<p>q)_proj' });
    expect(matchesTargetModule(Q, named)).toBe(true);
  });

  it('all-linear takes every linear layer except the output head', () => {
    const cfg = validateLoraConfig({ target_modules: 'all-linear' });
    expect(matchesTargetModule('model.layers.3.mlp.down_proj', cfg)).toBe(true);
    expect(matchesTargetModule('lm_head', cfg)).toBe(false);
    expect(matchesTargetModule('model.embed_tokens', cfg, { isLinear: false })).toBe(false);
    expect(matchesTargetModule('head', validateLoraConfig({ target_modules: 'ALL-LINEAR' }), { outputModuleName: 'head' })).toBe(false);
  });

  it('layersToTransform keeps listed layers; layersPattern names the layer list', () => {
    const cfg = validateLoraConfig({ target_modules: ['q_proj'], layers_to_transform: [0, 2] });
    expect(matchesTargetModule(Q, cfg)).toBe(true);
    expect(matchesTargetModule('model.layers.1.self_attn.q_proj', cfg)).toBe(false);
    expect(matchesTargetModule('model.layers.2.self_attn.q_proj', cfg)).toBe(true);
    const one = validateLoraConfig({ target_modules: ['q_proj'], layers_to_transform: 1, layers_pattern: 'layers' });
    expect(matchesTargetModule('model.layers.1.self_attn.q_proj', one)).toBe(true);
    const h = validateLoraConfig({ target_modules: ['q_proj'], layers_to_transform: 1, layers_pattern: ['h'] });
    expect(matchesTargetModule('model.layers.1.self_attn.q_proj', h)).toBe(false);
    // Without a pattern peft takes the last `.name.N.` in the name (greedy .*): here the expert index.
    const moe = validateLoraConfig({ target_modules: ['up_proj'], layers_to_transform: [3] });
    expect(matchesTargetModule('model.layers.10.mlp.experts.3.up_proj', moe)).toBe(true);
    // An exact full name ignores layersToTransform, as in peft.
    expect(matchesTargetModule('model.layers.1.self_attn.q_proj', validateLoraConfig({ target_modules: ['model.layers.1.self_attn.q_proj'], layers_to_transform: [0] }))).toBe(true);
  });

  it('exclude_modules and modules_to_save win over targets', () => {
    const cfg = validateLoraConfig({ target_modules: 'all-linear', exclude_modules: ['k_proj'], modules_to_save: ['score'] });
    expect(matchesTargetModule('model.layers.0.self_attn.k_proj', cfg)).toBe(false);
    expect(matchesTargetModule('score', cfg)).toBe(false);
    expect(matchesTargetModule('model.score.dense', cfg)).toBe(false);
    expect(matchesTargetModule('model.scores', cfg)).toBe(true);
    const rx = validateLoraConfig({ target_modules: ['q_proj'], exclude_modules: '.*layers\\.0\\..*' });
    expect(matchesTargetModule(Q, rx)).toBe(false);
    expect(matchesTargetModule('model.layers.1.self_attn.q_proj', rx)).toBe(true);
  });

  it('null targets must be resolved first', () => {
    expect(() => matchesTargetModule(Q, validateLoraConfig({}))).toThrow(ConfigError);
    expect(defaultTargetModules('qwen2')).toEqual(['q_proj', 'v_proj']);
    expect(() => defaultTargetModules('unknownlm')).toThrow(/no default for model type "unknownlm"/);
  });
});
