import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors';
import { checkBoolean, checkEnum, checkInteger, checkNumber, checkString, checkStringList } from './checks';

function err(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('field checkers', () => {
  it('checkNumber enforces bounds and finiteness', () => {
    const dropout = { min: 0, max: 1, maxExclusive: true };
    expect(checkNumber(0, 'p', dropout)).toBe(0);
    expect(err(() => checkNumber(1, 'p', dropout, 'Cfg')).message).toBe(
      'Cfg: invalid value for "p": expected a number in [0, 1), got 1',
    );
    expect(err(() => checkNumber(Number.NaN, 'p')).expected).toBe('a finite number');
    expect(err(() => checkNumber('0.1', 'p')).got).toBe('0.1');
    expect(err(() => checkNumber(0, 'lr', { min: 0, minExclusive: true })).expected).toBe('a number > 0');
  });

  it('checkInteger refuses fractions', () => {
    expect(checkInteger(8, 'r', { min: 1 })).toBe(8);
    expect(err(() => checkInteger(8.5, 'r', { min: 1 })).expected).toBe('an integer >= 1');
  });

  it('checkEnum lists the allowed values', () => {
    expect(checkEnum('all', 'bias', ['none', 'all'] as const)).toBe('all');
    expect(err(() => checkEnum('some', 'bias', ['none', 'all'])).expected).toBe('one of "none", "all"');
  });

  it('checkBoolean, checkString, checkStringList', () => {
    expect(checkBoolean(true, 'b')).toBe(true);
    expect(err(() => checkBoolean('true', 'b')).expected).toBe('true or false');
    expect(checkString('x', 's')).toBe('x');
    expect(err(() => checkString('', 's')).expected).toBe('a non-empty string');
    expect(checkString('', 's', undefined, true)).toBe('');
    expect(checkStringList(['a', 'b'], 'l')).toEqual(['a', 'b']);
    expect(err(() => checkStringList(['a', 3], 'l')).field).toBe('l');
  });
});
