import { ConfigError, FormatError } from '@q/core';
import type { SpecialTokens } from './types';

const FILE = 'tokenizer_config.json';

/** The part of a tokenizer_config.json this package reads. Other keys are ignored. */
export interface TokenizerConfigJson {
  chat_template?: string | { name: string; template: string }[] | null;
  [key: string]: unknown;
}

/**
 * Picks the chat template from a parsed tokenizer_config.json the way transformers does:
 * `chat_template` is either one template string, or a list of `{ name, template }`; from a list,
 * `name` selects one, else `tool_use` when tools are given and the list has it, else `default`.
 * Throws `FormatError` when the file has no usable template and `ConfigError` for an unknown name
 * (the error lists the names the file has).
 *
 * @example
 * ```ts
 * const config = JSON.parse(readFileSync('tokenizer_config.json', 'utf8'));
 * const template = getChatTemplate(config);             // the default template
 * const toolUse = getChatTemplate(config, 'tool_use');  // a named one
 * ```
 */
export function getChatTemplate(config: TokenizerConfigJson, name?: string, opts: { hasTools?: boolean } = {}): string {
  if (typeof config !== 'object' || config === null) {
    throw new FormatError(FILE, `expected a JSON object, got ${config === null ? 'null' : typeof config}`);
  }
  const ct = config.chat_template;
  if (ct === undefined || ct === null) {
    throw new FormatError(FILE, 'has no "chat_template"; pass options.chatTemplate or a built-in templateName');
  }
  if (typeof ct === 'string') {
    if (name !== undefined && name !== 'default') {
      throw new ConfigError('templateName', '"default" or no name (this tokenizer_config.json has one unnamed template)', name, FILE);
    }
    return ct;
  }
  if (!Array.isArray(ct)) {
    throw new FormatError(FILE, `"chat_template" must be a string or a list of {name, template}, got ${typeof ct}`);
  }
  const named = new Map<string, string>();
  ct.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null || typeof entry.name !== 'string' || typeof entry.template !== 'string') {
      throw new FormatError(FILE, `"chat_template"[${i}] must be {name: string, template: string}`);
    }
    named.set(entry.name, entry.template);
  });
  const names = [...named.keys()].sort();
  if (name !== undefined) {
    const t = named.get(name);
    if (t === undefined) throw new ConfigError('templateName', `one of ${names.map((n) => JSON.stringify(n)).join(', ')}`, name, FILE);
    return t;
  }
  if (opts.hasTools && named.has('tool_use')) return named.get('tool_use')!;
  const def = named.get('default');
  if (def === undefined) {
    throw new ConfigError('templateName', `one of ${names.map((n) => JSON.stringify(n)).join(', ')} (the file has several templates and no "default")`, undefined, FILE);
  }
  return def;
}

const TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/**
 * The special tokens a template sees, read from tokenizer_config.json as transformers'
 * `special_tokens_map`: each of bos/eos/unk/sep/pad/cls/mask that is set (a string, or an
 * AddedToken object `{content}`), and `additional_special_tokens` when non-empty. Unset tokens are
 * left out, so `bos_token` is undefined in the template for Qwen, as in transformers.
 *
 * @example
 * ```ts
 * specialTokensFromConfig({ bos_token: null, eos_token: '<|im_end|>' }); // { eos_token: '<|im_end|>' }
 * ```
 */
export function specialTokensFromConfig(config: TokenizerConfigJson): SpecialTokens {
  const out: SpecialTokens = {};
  for (const key of TOKEN_KEYS) {
    const v = tokenContent(config[key]);
    if (v) out[key] = v;
  }
  const extra = config.additional_special_tokens;
  if (Array.isArray(extra) && extra.length > 0) {
    out.additional_special_tokens = extra.map(tokenContent).filter((t): t is string => typeof t === 'string');
  }
  return out;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}
