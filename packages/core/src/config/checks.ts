/**
 * Typed field checkers for config validation. Each returns the value with its narrowed type, or
 * throws a {@link ConfigError} that names the field and the allowed values.
 */
import { ConfigError } from '../errors';

/** Bounds for {@link checkNumber}; all optional. */
export interface NumberRange {
  min?: number;
  max?: number;
  /** When true, `min` itself is not allowed. */
  minExclusive?: boolean;
  /** When true, `max` itself is not allowed. */
  maxExclusive?: boolean;
  /** When true, the value must be an integer. */
  integer?: boolean;
}

/** Describes a range the way the error message shows it, e.g. `a number in [0, 1)`. */
export function describeRange(range: NumberRange): string {
  const kind = range.integer ? 'an integer' : 'a number';
  const { min, max } = range;
  if (min !== undefined && max !== undefined) {
    return `${kind} in ${range.minExclusive ? '(' : '['}${min}, ${max}${range.maxExclusive ? ')' : ']'}`;
  }
  if (min !== undefined) return `${kind} ${range.minExclusive ? '>' : '>='} ${min}`;
  if (max !== undefined) return `${kind} ${range.maxExclusive ? '<' : '<='} ${max}`;
  return `a finite ${range.integer ? 'integer' : 'number'}`;
}

/**
 * Checks that `value` is a finite number within `range`.
 *
 * @example
 * ```ts
 * checkNumber(0.1, 'loraDropout', { min: 0, max: 1, maxExclusive: true }, 'LoraConfig') // 0.1
 * checkNumber(2, 'loraDropout', { min: 0, max: 1, maxExclusive: true }) // throws ConfigError
 * ```
 */
export function checkNumber(value: unknown, field: string, range: NumberRange = {}, source?: string): number {
  const fail = () => new ConfigError(field, describeRange(range), value, source);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw fail();
  if (range.integer && !Number.isInteger(value)) throw fail();
  const { min, max } = range;
  if (min !== undefined && (range.minExclusive ? value <= min : value < min)) throw fail();
  if (max !== undefined && (range.maxExclusive ? value >= max : value > max)) throw fail();
  return value;
}

/**
 * Checks that `value` is an integer within `range`.
 *
 * @example
 * ```ts
 * checkInteger(8, 'r', { min: 1 }, 'LoraConfig') // 8
 * ```
 */
export function checkInteger(value: unknown, field: string, range: NumberRange = {}, source?: string): number {
  return checkNumber(value, field, { ...range, integer: true }, source);
}

/**
 * Checks that `value` is one of `allowed`.
 *
 * @example
 * ```ts
 * checkEnum('none', 'bias', ['none', 'all', 'lora_only'] as const) // 'none'
 * ```
 */
export function checkEnum<T extends string | number | boolean>(
  value: unknown,
  field: string,
  allowed: readonly T[],
  source?: string,
): T {
  if (!allowed.includes(value as T)) {
    throw new ConfigError(field, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value, source);
  }
  return value as T;
}

/**
 * Checks that `value` is a boolean (strings like "true" are refused: JSON has real booleans).
 *
 * @example
 * ```ts
 * checkBoolean(false, 'useRslora') // false
 * ```
 */
export function checkBoolean(value: unknown, field: string, source?: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(field, 'true or false', value, source);
  return value;
}

/**
 * Checks that `value` is a string, non-empty unless `allowEmpty`.
 *
 * @example
 * ```ts
 * checkString('text', 'datasetTextField') // 'text'
 * ```
 */
export function checkString(value: unknown, field: string, source?: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new ConfigError(field, allowEmpty ? 'a string' : 'a non-empty string', value, source);
  }
  return value;
}

/**
 * Checks that `value` is an array of non-empty strings.
 *
 * @example
 * ```ts
 * checkStringList(['q_proj', 'v_proj'], 'targetModules') // ['q_proj', 'v_proj']
 * ```
 */
export function checkStringList(value: unknown, field: string, source?: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new ConfigError(field, 'a list of non-empty strings', value, source);
  }
  return [...value];
}
