import { ConfigError } from '@q/core';
import { describe, expect, it } from 'vitest';
import { LLAMA32_1B, MISTRAL_7B_V01, QWEN25_05B_INSTRUCT, TINYLLAMA_11B_CHAT } from './hub-configs.fixture';
import { modelConfigToJson } from './model-config-to-json';
import { parseModelConfig } from './parse-model-config';
import { ropeInverseFrequencies } from './rope';

describe('parseModelConfig', () => {
  it('normalizes Qwen2.5-0.5B: q/k/v biases, GQA 14/2, head_dim 64, tied embeddings', () => {
    const c = parseModelConfig(QWEN25_05B_INSTRUCT);
    expect(c).toMatchObject({
      modelType: 'qwen2', hiddenSize: 896, numAttentionHeads: 14, numKeyValueHeads: 2, headDim: 64,
      intermediateSize: 4864, numHiddenLayers: 24, vocabSize: 151936, ropeTheta: 1e6, ropeScaling: null,
      qkvBias: true, oBias: false, mlpBias: false, tieWordEmbeddings: true, torchDtype: 'bfloat16',
      bosTokenId: 151643, eosTokenId: 151645, padTokenId: null, quantizationConfig: null, rmsNormEps: 1e-6,
    });
    // use_sliding_window is false, so there is nothing to warn about.
    expect(c.notes).toEqual([]);
  });

  it('normalizes TinyLlama and Llama 3.2 (explicit head_dim, llama3 rope scaling)', () => {
    expect(parseModelConfig(TINYLLAMA_11B_CHAT)).toMatchObject({
      modelType: 'llama', headDim: 64, numKeyValueHeads: 4, qkvBias: false, oBias: false, rmsNormEps: 1e-5, tieWordEmbeddings: false,
    });
    expect(parseModelConfig(LLAMA32_1B).ropeScaling).toEqual({
      type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192,
    });
    const biased = parseModelConfig({ ...TINYLLAMA_11B_CHAT, attention_bias: true, mlp_bias: true });
    expect([biased.qkvBias, biased.oBias, biased.mlpBias]).toEqual([true, true, true]);
  });

  it('normalizes Mistral and notes the sliding window it ignores', () => {
    const c = parseModelConfig(MISTRAL_7B_V01);
    expect(c).toMatchObject({ modelType: 'mistral', headDim: 128, numKeyValueHeads: 8, qkvBias: false });
    expect(c.notes).toEqual(['sliding_window=4096 ignored: attention is full, which matches it for sequences up to 4096 tokens']);
    expect(parseModelConfig({ ...QWEN25_05B_INSTRUCT, use_sliding_window: true }).notes).toHaveLength(1);
  });

  it('fills transformers defaults for missing keys (SmolLM-style minimal llama)', () => {
    const c = parseModelConfig({ model_type: 'llama', hidden_size: 576, num_attention_heads: 9, num_key_value_heads: 3, intermediate_size: 1536, num_hidden_layers: 30, vocab_size: 49152 });
    expect(c).toMatchObject({ headDim: 64, ropeTheta: 10000, rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenId: 2, torchDtype: null });
    // num_key_value_heads defaults to num_attention_heads (multi-head attention).
    expect(parseModelConfig({ model_type: 'llama', hidden_size: 64, num_attention_heads: 4 }).numKeyValueHeads).toBe(4);
  });

  it('reads newer transformers spellings: dtype, rope_parameters, torch.* dtypes', () => {
    const c = parseModelConfig({ ...TINYLLAMA_11B_CHAT, torch_dtype: undefined, dtype: 'torch.float16', rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 5e5 } });
    expect([c.torchDtype, c.ropeTheta, c.ropeScaling]).toEqual(['float16', 5e5, { type: 'linear', factor: 2 }]);
  });

  it('passes quantization_config through untouched', () => {
    const q = { quant_method: 'bitsandbytes', load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_compute_dtype: 'bfloat16', bnb_4bit_use_double_quant: true };
    expect(parseModelConfig({ ...QWEN25_05B_INSTRUCT, quantization_config: q }).quantizationConfig).toEqual(q);
  });

  it('rejects bad configs with the file, the field and the allowed values', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ ...QWEN25_05B_INSTRUCT, model_type: 'gpt2' }, /cfg\.json: invalid value for "model_type": expected one of "qwen2", "llama", "mistral", got "gpt2"/],
      [{ ...TINYLLAMA_11B_CHAT, rope_scaling: { type: 'yarn', factor: 4 } }, /"rope_scaling\.rope_type": expected one of "default", "linear", "llama3".*got "yarn"/],
      [{ ...TINYLLAMA_11B_CHAT, rope_scaling: { type: 'dynamic', factor: 2 } }, /"rope_scaling\.rope_type".*got "dynamic"/],
      [{ ...TINYLLAMA_11B_CHAT, rope_scaling: { type: 'linear' } }, /"rope_scaling\.factor": expected a number >= 1, got undefined/],
      [{ ...QWEN25_05B_INSTRUCT, num_key_value_heads: 3 }, /"num_key_value_heads": expected a divisor of num_attention_heads \(14\), got 3/],
      [{ ...QWEN25_05B_INSTRUCT, hidden_size: 900 }, /"num_attention_heads": expected a divisor of hidden_size \(900\), or an explicit head_dim/],
      [{ ...QWEN25_05B_INSTRUCT, hidden_act: 'gelu' }, /"hidden_act": expected one of "silu", got "gelu"/],
      [{ ...QWEN25_05B_INSTRUCT, torch_dtype: 'int8' }, /"torch_dtype": expected one of "float32", "float16", "bfloat16"/],
      [{ ...QWEN25_05B_INSTRUCT, vocab_size: '151936' }, /"vocab_size": expected an integer >= 1, got "151936"/],
      [{ ...QWEN25_05B_INSTRUCT, eos_token_id: 200000 }, /"eos_token_id": expected an integer in \[0, 151935\]/],
      [[1, 2], /"\(config\)": expected a JSON object/],
    ];
    for (const [json, re] of bad) {
      expect(() => parseModelConfig(json, 'cfg.json')).toThrow(ConfigError);
      expect(() => parseModelConfig(json, 'cfg.json')).toThrow(re);
    }
  });
});

describe('modelConfigToJson', () => {
  it('round-trips each fixture: parse(toJson(parse(x))) equals parse(x) and unknown keys survive', () => {
    for (const fx of [QWEN25_05B_INSTRUCT, TINYLLAMA_11B_CHAT, LLAMA32_1B, MISTRAL_7B_V01]) {
      const c = parseModelConfig(fx);
      const json = modelConfigToJson(c);
      expect(json.initializer_range).toBe(0.02);
      expect(json.transformers_version).toBe(fx.transformers_version);
      const again = parseModelConfig(JSON.parse(JSON.stringify(json)));
      expect({ ...again, raw: null }).toEqual({ ...c, raw: null });
    }
  });

  it('writes transformers spellings and adds or drops quantization_config', () => {
    const c = parseModelConfig(LLAMA32_1B);
    const q = { quant_method: 'bitsandbytes', load_in_4bit: true };
    const withQ = modelConfigToJson(c, { quantizationConfig: q });
    expect(withQ).toMatchObject({ rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }, head_dim: 64, attention_bias: false, mlp_bias: false, torch_dtype: 'bfloat16', quantization_config: q });
    const withoutQ = modelConfigToJson({ ...c, quantizationConfig: q, torchDtype: 'float16' }, { quantizationConfig: null });
    expect('quantization_config' in withoutQ).toBe(false);
    expect(withoutQ.torch_dtype).toBe('float16');
    // Qwen2 has no attention_bias key in transformers; we must not invent one.
    expect('attention_bias' in modelConfigToJson(parseModelConfig(QWEN25_05B_INSTRUCT))).toBe(false);
    expect('head_dim' in modelConfigToJson(parseModelConfig(QWEN25_05B_INSTRUCT))).toBe(false);
  });
});

describe('ropeInverseFrequencies', () => {
  it('computes θ^(-2i/d) and the linear and llama3 scalings (hand-derived values)', () => {
    // d=4, θ=1e4: [1, 1e4^(-1/2)] = [1, 0.01].
    const base = { headDim: 4, ropeTheta: 1e4 };
    expect(Array.from(ropeInverseFrequencies({ ...base, ropeScaling: null }))).toEqual([1, 0.01]);
    expect(Array.from(ropeInverseFrequencies({ ...base, ropeScaling: { type: 'linear', factor: 2 } }))).toEqual([0.5, 0.005]);
    // d=6, θ=1e6 → [1, 1e-2, 1e-4], wavelengths [2π, 200π, 2e4π]. With original 1000, low 0.5,
    // high 2: bounds 2000 and 500. 2π < 500 keeps 1; 2e4π > 2000 gives 1e-4/8; 200π is between:
    // s = (1000/(200π) − 0.5)/1.5 = 0.727697, f = 0.01·((1−s)/8 + s) = 0.0076173717.
    const l3 = ropeInverseFrequencies({ headDim: 6, ropeTheta: 1e6, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 0.5, highFreqFactor: 2, originalMaxPositionEmbeddings: 1000 } });
    expect(l3[0]).toBe(1);
    expect(l3[1]).toBeCloseTo(0.007617371680360567, 15);
    expect(l3[2]).toBeCloseTo(1.25e-5, 18);
  });
});
