/**
 * `BitsAndBytesConfig`: how to load a model in 4 bits, mirroring transformers' class of that name
 * so a `quantization_config` from a Hugging Face config.json reads and writes losslessly.
 */
import { ConfigError } from '@q/core';
import { QUANT_TYPES, type QuantType } from './codebooks';
import { checkBlocksize } from './quantized-tensor';
import type { QuantStorage } from './bnb-tensors';

/** Compute dtypes for the dequantized matmul. */
export type ComputeDtype = 'float32' | 'float16' | 'bfloat16';

/** 4-bit loading settings (transformers' BitsAndBytesConfig, 4-bit fields only). */
export interface BitsAndBytesConfig {
  /** Quantize Linear weights to 4 bits on load. Default false (as transformers). */
  loadIn4bit: boolean;
  /** 4-bit data type. Default 'fp4' (as transformers; QLoRA uses 'nf4'). */
  bnb4bitQuantType: QuantType;
  /** dtype of the dequantized weights in the matmul. Default 'float32'. */
  bnb4bitComputeDtype: ComputeDtype;
  /** Quantize the absmax too (~0.37 bits/param saved at blocksize 64). Default false. */
  bnb4bitUseDoubleQuant: boolean;
  /** dtype the packed codes are stored as in the checkpoint. Default 'uint8'. */
  bnb4bitQuantStorage: QuantStorage;
  /** Values per absmax block (ours; bitsandbytes' Linear4bit uses 64). Default 64. */
  blocksize: number;
  /** Module names kept unquantized (e.g. ['lm_head']). Default null: none. */
  llmInt8SkipModules: string[] | null;
}

/** Defaults: transformers' own, so a config.json that leaves a field out means the same here. */
export const BNB_CONFIG_DEFAULTS: Readonly<BitsAndBytesConfig> = Object.freeze({
  loadIn4bit: false,
  bnb4bitQuantType: 'fp4',
  bnb4bitComputeDtype: 'float32',
  bnb4bitUseDoubleQuant: false,
  bnb4bitQuantStorage: 'uint8',
  blocksize: 64,
  llmInt8SkipModules: null,
});

/** The QLoRA paper's setting: NF4, double quantization, bfloat16 compute. */
export const QLORA_BNB_CONFIG: Readonly<BitsAndBytesConfig> = Object.freeze({
  ...BNB_CONFIG_DEFAULTS,
  loadIn4bit: true,
  bnb4bitQuantType: 'nf4',
  bnb4bitComputeDtype: 'bfloat16',
  bnb4bitUseDoubleQuant: true,
});

const COMPUTE_DTYPES: readonly ComputeDtype[] = ['float32', 'float16', 'bfloat16'];
const QUANT_STORAGES: readonly QuantStorage[] = ['uint8', 'int8', 'float16', 'bfloat16', 'float32', 'float64'];

// Hugging Face spellings of our fields.
const SNAKE: Readonly<Record<string, keyof BitsAndBytesConfig>> = {
  load_in_4bit: 'loadIn4bit',
  _load_in_4bit: 'loadIn4bit',
  bnb_4bit_quant_type: 'bnb4bitQuantType',
  bnb_4bit_compute_dtype: 'bnb4bitComputeDtype',
  bnb_4bit_use_double_quant: 'bnb4bitUseDoubleQuant',
  bnb_4bit_quant_storage: 'bnb4bitQuantStorage',
  llm_int8_skip_modules: 'llmInt8SkipModules',
};

// transformers writes these 8-bit settings too; they do not affect 4-bit loading.
const IGNORED = ['llm_int8_threshold', 'llm_int8_enable_fp32_cpu_offload', 'llm_int8_has_fp16_weight', 'llmInt8Threshold', 'llmInt8EnableFp32CpuOffload', 'llmInt8HasFp16Weight'];

const SOURCE = 'BitsAndBytesConfig';

/**
 * Validate a 4-bit config given in our camelCase, in transformers' snake_case, or as the
 * `quantization_config` object of a config.json (a whole config.json holding one works too).
 * Missing fields take {@link BNB_CONFIG_DEFAULTS}. Errors name the field and the allowed values.
 *
 * @example
 * ```ts
 * validateBitsAndBytesConfig({ load_in_4bit: true, bnb_4bit_quant_type: 'nf4' }).bnb4bitQuantType // 'nf4'
 * validateBitsAndBytesConfig(JSON.parse(configJson)) // reads config.json's quantization_config
 * ```
 */
export function validateBitsAndBytesConfig(obj: unknown): BitsAndBytesConfig {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new ConfigError('(config)', 'an object of named fields', obj, SOURCE);
  }
  let input = obj as Record<string, unknown>;
  if ('quantization_config' in input) {
    const inner = input.quantization_config;
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
      throw new ConfigError('quantization_config', 'an object', inner, SOURCE);
    }
    input = inner as Record<string, unknown>;
  }

  const fields = Object.keys(BNB_CONFIG_DEFAULTS) as (keyof BitsAndBytesConfig)[];
  const given: Partial<Record<keyof BitsAndBytesConfig, unknown>> = {};
  const spelled: Partial<Record<keyof BitsAndBytesConfig, string>> = {};
  for (const [key, value] of Object.entries(input)) {
    if (IGNORED.includes(key)) continue;
    if (key === 'quant_method' || key === 'quantMethod') {
      if (value !== 'bitsandbytes') throw new ConfigError(key, '"bitsandbytes"', value, SOURCE);
      continue;
    }
    if (['load_in_8bit', '_load_in_8bit', 'loadIn8bit'].includes(key)) {
      if (value !== false && value !== null && value !== undefined) {
        throw new ConfigError(key, 'false (only 4-bit loading is supported)', value, SOURCE);
      }
      continue;
    }
    const field = (fields as string[]).includes(key) ? (key as keyof BitsAndBytesConfig) : SNAKE[key];
    if (!field) {
      const known = [...fields, ...Object.keys(SNAKE)].join(', ');
      throw new ConfigError(key, `a known field (${known})`, value, SOURCE);
    }
    // transformers writes both load_in_4bit and _load_in_4bit; they must agree.
    if (spelled[field] !== undefined && given[field] !== value) {
      throw new ConfigError(key, `the same value as "${spelled[field]}" (${JSON.stringify(given[field])})`, value, SOURCE);
    }
    spelled[field] = key;
    if (value !== undefined) given[field] = value;
  }

  const c = { ...BNB_CONFIG_DEFAULTS, ...given } as Record<keyof BitsAndBytesConfig, unknown>;
  const name = (f: keyof BitsAndBytesConfig) => spelled[f] ?? f;
  const oneOf = (f: keyof BitsAndBytesConfig, allowed: readonly string[]) => {
    if (!allowed.includes(c[f] as string)) {
      throw new ConfigError(name(f), `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, c[f], SOURCE);
    }
  };
  for (const f of ['loadIn4bit', 'bnb4bitUseDoubleQuant'] as const) {
    if (typeof c[f] !== 'boolean') throw new ConfigError(name(f), 'true or false', c[f], SOURCE);
  }
  oneOf('bnb4bitQuantType', QUANT_TYPES);
  oneOf('bnb4bitComputeDtype', COMPUTE_DTYPES);
  oneOf('bnb4bitQuantStorage', QUANT_STORAGES);
  checkBlocksize(c.blocksize, name('blocksize'), SOURCE);
  const skip = c.llmInt8SkipModules;
  if (skip !== null && !(Array.isArray(skip) && skip.every((s) => typeof s === 'string' && s.length > 0))) {
    throw new ConfigError(name('llmInt8SkipModules'), 'null or a list of module names', skip, SOURCE);
  }
  return { ...(c as unknown as BitsAndBytesConfig), llmInt8SkipModules: skip === null ? null : [...(skip as string[])] };
}

/**
 * transformers' `quantization_config` for config.json (snake_case, the keys `to_dict` writes).
 * `blocksize` has no transformers field: bitsandbytes reads it from each weight's quant state.
 * `llm_int8_threshold` is left out on purpose: JSON.stringify would write 6.0 as `6`, and
 * transformers rejects an int there; leaving it out gives its default 6.0.
 *
 * @example
 * ```ts
 * config.quantization_config = toQuantizationConfigJson(QLORA_BNB_CONFIG)
 * ```
 */
export function toQuantizationConfigJson(cfg: Partial<BitsAndBytesConfig>): Record<string, unknown> {
  const c = validateBitsAndBytesConfig(cfg);
  return {
    quant_method: 'bitsandbytes',
    _load_in_8bit: false,
    _load_in_4bit: c.loadIn4bit,
    llm_int8_skip_modules: c.llmInt8SkipModules,
    llm_int8_enable_fp32_cpu_offload: false,
    llm_int8_has_fp16_weight: false,
    bnb_4bit_quant_type: c.bnb4bitQuantType,
    bnb_4bit_use_double_quant: c.bnb4bitUseDoubleQuant,
    bnb_4bit_compute_dtype: c.bnb4bitComputeDtype,
    bnb_4bit_quant_storage: c.bnb4bitQuantStorage,
    load_in_4bit: c.loadIn4bit,
    load_in_8bit: false,
  };
}
