/**
 * Accepts a config object written either in our camelCase or in Hugging Face's snake_case
 * (as found in adapter_config.json, TrainingArguments JSON or a Python snippet a user pastes),
 * and rejects keys that no field has, suggesting the closest one: a typo like `lora_alpah`
 * must fail loudly instead of silently training with the default.
 */
import { ConfigError } from '../errors';
import { toCamelCase } from './case';
import { closestName } from './suggest';

/** Options of {@link normalizeKeys}. */
export interface NormalizeKeysOptions {
  /** Old or alternative names (camelCase or snake_case) mapped to the camelCase field they set. */
  aliases?: Readonly<Record<string, string>>;
  /** Keys (as written) that are accepted and dropped, e.g. bookkeeping keys another tool writes. */
  ignore?: readonly string[];
}

/**
 * Returns a copy of `obj` whose keys are the camelCase names in `knownFields`. Each key may be
 * given as the field name itself, its snake_case form, or an alias. Throws {@link ConfigError}
 * for a value that is not a plain object, an unknown key (with a "did you mean" suggestion) or a
 * field given twice under two spellings.
 *
 * @example
 * ```ts
 * normalizeKeys({ lora_alpha: 16, r: 8 }, ['r', 'loraAlpha'], 'LoraConfig')
 * // { loraAlpha: 16, r: 8 }
 * normalizeKeys({ lora_alpah: 16 }, ['r', 'loraAlpha'], 'LoraConfig')
 * // throws ConfigError: LoraConfig: invalid value for "lora_alpah": expected a known field; did you mean "loraAlpha"? ...
 * ```
 */
export function normalizeKeys(
  obj: unknown,
  knownFields: readonly string[],
  source?: string,
  options: NormalizeKeysOptions = {},
): Record<string, unknown> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new ConfigError('(config)', 'an object of named fields', obj, source);
  }
  const known = new Set(knownFields);
  const aliases = new Map<string, string>();
  for (const [from, to] of Object.entries(options.aliases ?? {})) aliases.set(toCamelCase(from), to);
  const ignore = new Set(options.ignore ?? []);

  const out: Record<string, unknown> = {};
  const spelledAs = new Map<string, string>();
  for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
    if (ignore.has(key)) continue;
    const camel = toCamelCase(key);
    const field = known.has(key) ? key : known.has(camel) ? camel : aliases.get(camel);
    if (field === undefined || !known.has(field)) {
      const guess = closestName(key, [...knownFields, ...aliases.keys()]);
      const hint = guess
        ? `did you mean "${aliases.get(guess) ?? guess}"?`
        : `known fields are ${knownFields.join(', ')}`;
      throw new ConfigError(key, `a known field; ${hint}`, value, source);
    }
    const earlier = spelledAs.get(field);
    if (earlier !== undefined) {
      throw new ConfigError(key, `"${field}" given once, but it is also set as "${earlier}"`, value, source);
    }
    spelledAs.set(field, key);
    out[field] = value;
  }
  return out;
}

/**
 * Normalizes `input` with {@link normalizeKeys} (the known fields are the keys of `defaults`)
 * and fills every field the input leaves out, or sets to `undefined`, from `defaults`.
 *
 * @example
 * ```ts
 * withDefaults({ r: 16 }, { r: 8, loraAlpha: 8 }, 'LoraConfig') // { r: 16, loraAlpha: 8 }
 * ```
 */
export function withDefaults<T extends object>(
  input: unknown,
  defaults: T,
  source?: string,
  options: NormalizeKeysOptions = {},
): T {
  const given = normalizeKeys(input ?? {}, Object.keys(defaults), source, options);
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) out[k] = v;
  return out as T;
}
