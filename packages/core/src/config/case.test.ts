import { describe, expect, it } from 'vitest';
import { toCamelCase, toSnakeCase } from './case';

// Pairs as transformers / peft / bitsandbytes spell them, checked in both directions.
const PAIRS: [string, string][] = [
  ['load_in_4bit', 'loadIn4bit'],
  ['load_in_8bit', 'loadIn8bit'],
  ['bnb_4bit_compute_dtype', 'bnb4bitComputeDtype'],
  ['bnb_4bit_use_double_quant', 'bnb4bitUseDoubleQuant'],
  ['llm_int8_threshold', 'llmInt8Threshold'],
  ['lora_alpha', 'loraAlpha'],
  ['per_device_train_batch_size', 'perDeviceTrainBatchSize'],
  ['adam_beta1', 'adamBeta1'],
  ['adam_beta2', 'adamBeta2'],
  ['fp16', 'fp16'],
  ['bf16_full_eval', 'bf16FullEval'],
  ['r', 'r'],
];

describe('case conversion', () => {
  it.each(PAIRS)('%s <-> %s', (snake, camel) => {
    expect(toCamelCase(snake)).toBe(camel);
    expect(toSnakeCase(camel)).toBe(snake);
  });

  it('leaves camelCase input to toCamelCase unchanged', () => {
    expect(toCamelCase('loraAlpha')).toBe('loraAlpha');
  });
});
