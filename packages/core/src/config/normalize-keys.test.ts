import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors';
import { normalizeKeys, withDefaults } from './normalize-keys';
import { closestName, editDistance } from './suggest';

const FIELDS = ['r', 'loraAlpha', 'loraDropout', 'bnb4bitComputeDtype'];

function catchConfig(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('normalizeKeys', () => {
  it('accepts snake_case and camelCase keys', () => {
    expect(normalizeKeys({ lora_alpha: 16, r: 4, bnb_4bit_compute_dtype: 'float16' }, FIELDS)).toEqual({
      loraAlpha: 16,
      r: 4,
      bnb4bitComputeDtype: 'float16',
    });
    expect(normalizeKeys({ loraDropout: 0.1 }, FIELDS)).toEqual({ loraDropout: 0.1 });
  });

  it('rejects an unknown key and suggests the closest field', () => {
    const e = catchConfig(() => normalizeKeys({ lora_alpah: 16 }, FIELDS, 'LoraConfig'));
    expect(e.field).toBe('lora_alpah');
    expect(e.expected).toContain('did you mean "loraAlpha"');
    expect(e.message).toMatch(/^LoraConfig: /);
  });

  it('lists the known fields when nothing is close', () => {
    const e = catchConfig(() => normalizeKeys({ zzzzzzzzzz: 1 }, FIELDS));
    expect(e.expected).toContain('known fields are r, loraAlpha');
  });

  it('maps aliases and refuses a field given twice', () => {
    const opts = { aliases: { max_seq_length: 'loraDropout' } };
    expect(normalizeKeys({ max_seq_length: 0.2 }, FIELDS, 's', opts)).toEqual({ loraDropout: 0.2 });
    const e = catchConfig(() => normalizeKeys({ lora_alpha: 1, loraAlpha: 2 }, FIELDS));
    expect(e.field).toBe('loraAlpha');
  });

  it('drops ignored keys and refuses non-objects', () => {
    expect(normalizeKeys({ peft_version: '0.1', r: 2 }, FIELDS, 's', { ignore: ['peft_version'] })).toEqual({ r: 2 });
    expect(catchConfig(() => normalizeKeys([1], FIELDS)).expected).toContain('object');
    expect(catchConfig(() => normalizeKeys(null, FIELDS)).field).toBe('(config)');
  });

  it('withDefaults fills missing and undefined fields', () => {
    expect(withDefaults({ r: 16, lora_alpha: undefined }, { r: 8, loraAlpha: 8 })).toEqual({ r: 16, loraAlpha: 8 });
  });
});

describe('closestName', () => {
  it('measures edits with transpositions as one', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('alpah', 'alpha')).toBe(1);
  });
  it('returns undefined when nothing is close', () => {
    expect(closestName('seed', ['loraAlpha', 'bnb4bitComputeDtype'])).toBeUndefined();
    expect(closestName('learning_rat', ['learningRate', 'seed'])).toBe('learningRate');
  });
});
