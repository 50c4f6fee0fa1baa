/**
 * peft matches module names with Python's `re`. The regex subset people write for
 * target_modules (alternations, classes, `.*`, `\d`, lookarounds) means the same in JS once
 * Python-only spellings are rewritten; a pattern JS still cannot compile is a ConfigError, never
 * a silent mismatch.
 */
import { ConfigError } from '@q/core';

/** Rewrites Python-only regex syntax: named groups `(?P<n>…)`, backreferences `(?P=n)`, `\A`, `\Z`. */
export function pythonRegexSource(pattern: string): string {
  return pattern
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '$');
}

/**
 * Compiles a Python regex as JS, anchored at the start (`re.match`) or at both ends
 * (`re.fullmatch`). Throws {@link ConfigError} naming `field` when it does not compile.
 *
 * @example
 * ```ts
 * compilePythonRegex('.*\\.(q|v)_proj', 'targetModules', 'LoraConfig', 'full').test('model.layers.0.q_proj') // true
 * ```
 */
export function compilePythonRegex(
  pattern: string,
  field: string,
  source?: string,
  anchor: 'full' | 'start' | 'none' = 'none',
): RegExp {
  const body = pythonRegexSource(pattern);
  const src = anchor === 'full' ? `^(?:${body})$` : anchor === 'start' ? `^(?:${body})` : body;
  try {
    return new RegExp(src);
  } catch (e) {
    throw new ConfigError(field, `a regular expression (${(e as Error).message})`, pattern, source);
  }
}
