import { describe, expect, it } from 'vitest';
import { ConfigError } from '@q/core';
import {
  BNB_CONFIG_DEFAULTS,
  QLORA_BNB_CONFIG,
  toQuantizationConfigJson,
  validateBitsAndBytesConfig,
} from './bnb-config';

// quantization_config as transformers' save_pretrained writes it (sorted keys).
const FROM_CONFIG_JSON = {
  _load_in_4bit: true,
  _load_in_8bit: false,
  bnb_4bit_compute_dtype: 'bfloat16',
  bnb_4bit_quant_storage: 'uint8',
  bnb_4bit_quant_type: 'nf4',
  bnb_4bit_use_double_quant: true,
  llm_int8_enable_fp32_cpu_offload: false,
  llm_int8_has_fp16_weight: false,
  llm_int8_skip_modules: null,
  llm_int8_threshold: 6.0,
  load_in_4bit: true,
  load_in_8bit: false,
  quant_method: 'bitsandbytes',
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('validateBitsAndBytesConfig', () => {
  it('fills transformers defaults', () => {
    expect(validateBitsAndBytesConfig({})).toEqual(BNB_CONFIG_DEFAULTS);
    expect(BNB_CONFIG_DEFAULTS).toMatchObject({ loadIn4bit: false, bnb4bitQuantType: 'fp4', bnb4bitComputeDtype: 'float32', blocksize: 64 });
  });

  it('reads a quantization_config from config.json, alone or inside the whole config', () => {
    expect(validateBitsAndBytesConfig(FROM_CONFIG_JSON)).toEqual(QLORA_BNB_CONFIG);
    expect(validateBitsAndBytesConfig({ model_type: 'qwen2', quantization_config: FROM_CONFIG_JSON })).toEqual(QLORA_BNB_CONFIG);
  });

  it('accepts camelCase and snake_case', () => {
    const camel = validateBitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', llmInt8SkipModules: ['lm_head'], blocksize: 128 });
    const snake = validateBitsAndBytesConfig({ load_in_4bit: true, bnb_4bit_quant_type: 'nf4', llm_int8_skip_modules: ['lm_head'], blocksize: 128 });
    expect(snake).toEqual(camel);
    expect(camel).toMatchObject({ loadIn4bit: true, bnb4bitQuantType: 'nf4', llmInt8SkipModules: ['lm_head'], blocksize: 128 });
  });

  it.each([
    [{ bnb_4bit_quant_type: 'int4' }, 'bnb_4bit_quant_type', /"nf4", "fp4"/],
    [{ bnb4bitComputeDtype: 'float64' }, 'bnb4bitComputeDtype', /"float32", "float16", "bfloat16"/],
    [{ bnb_4bit_quant_storage: 'int4' }, 'bnb_4bit_quant_storage', /"uint8"/],
    [{ load_in_4bit: 'yes' }, 'load_in_4bit', /true or false/],
    [{ blocksize: 100 }, 'blocksize', /32, 64, 128/],
    [{ llm_int8_skip_modules: 'lm_head' }, 'llm_int8_skip_modules', /null or a list/],
    [{ load_in_8bit: true }, 'load_in_8bit', /only 4-bit/],
    [{ quant_method: 'gptq' }, 'quant_method', /"bitsandbytes"/],
    [{ bnb_4bit_quant_typ: 'nf4' }, 'bnb_4bit_quant_typ', /a known field/],
    [{ load_in_4bit: true, _load_in_4bit: false }, '_load_in_4bit', /same value as "load_in_4bit"/],
  ])('rejects %j naming the field and allowed values', (input, field, expected) => {
    const e = configError(() => validateBitsAndBytesConfig(input));
    expect(e.field).toBe(field);
    expect(e.expected).toMatch(expected);
  });
});

describe('toQuantizationConfigJson', () => {
  it('writes the keys transformers writes, minus llm_int8_threshold, and reads back', () => {
    const out = toQuantizationConfigJson(QLORA_BNB_CONFIG);
    expect(out).toEqual({
      quant_method: 'bitsandbytes',
      _load_in_8bit: false,
      _load_in_4bit: true,
      llm_int8_skip_modules: null,
      llm_int8_enable_fp32_cpu_offload: false,
      llm_int8_has_fp16_weight: false,
      bnb_4bit_quant_type: 'nf4',
      bnb_4bit_use_double_quant: true,
      bnb_4bit_compute_dtype: 'bfloat16',
      bnb_4bit_quant_storage: 'uint8',
      load_in_4bit: true,
      load_in_8bit: false,
    });
    expect(validateBitsAndBytesConfig(JSON.parse(JSON.stringify(out)))).toEqual(QLORA_BNB_CONFIG);
  });
});
