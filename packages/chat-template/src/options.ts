import { ConfigError } from '@q/core';
import type { TokenizerConfigJson } from './tokenizer-config';
import type { ChatTokenizer, SpecialTokens } from './types';

/**
 * Options of {@link applyChatTemplate}, named after transformers' `apply_chat_template` arguments
 * in camelCase. The template comes from `chatTemplate`, else from `tokenizerConfig`
 * (`templateName` picks a named one), else from the built-in `templateName`.
 */
export interface ApplyChatTemplateOptions {
  /** Jinja template source. Wins over `tokenizerConfig` and `templateName`. Default: none. */
  chatTemplate?: string;
  /** Parsed tokenizer_config.json: source of `chat_template` and of the special tokens. Default: none. */
  tokenizerConfig?: TokenizerConfigJson;
  /**
   * A named template of `tokenizerConfig` (e.g. `tool_use`), or a built-in: `chatml`, `qwen2.5`,
   * `zephyr`, `llama3`. Default: the config's default template.
   */
  templateName?: string;
  /** Needed to tokenize and for assistant masks. Default: none. */
  tokenizer?: ChatTokenizer;
  /** Return `inputIds` (no special tokens added; the template writes them). Default: true when a tokenizer is given. */
  tokenize?: boolean;
  /** Append the header that asks the model for a new assistant turn. Default: false. */
  addGenerationPrompt?: boolean;
  /** Leave the final message open (no end-of-turn) so the model continues it. Default: false. */
  continueFinalMessage?: boolean;
  /** Return `assistantMasks` (1 = token the model must learn to produce) and `assistantSpans`. Default: false. */
  returnAssistantTokensMask?: boolean;
  /** Special tokens for the template; override those of `tokenizerConfig` or the built-in. Default: {}. */
  specialTokens?: SpecialTokens;
  /** Tool JSON schemas, passed as `tools`. Default: null. */
  tools?: Record<string, unknown>[] | null;
  /** RAG documents, passed as `documents`. Default: null. */
  documents?: Record<string, unknown>[] | null;
  /** Extra template variables, e.g. `{ enable_thinking: false }`; they override special tokens. Default: {}. */
  templateKwargs?: Record<string, unknown>;
  /** Clock for `strftime_now`, to make date-stamped prompts (Llama 3.1) reproducible. Default: the current time. */
  now?: Date;
}

/** The defaults of {@link ApplyChatTemplateOptions}, in one place. */
export const CHAT_TEMPLATE_DEFAULTS = Object.freeze({
  addGenerationPrompt: false,
  continueFinalMessage: false,
  returnAssistantTokensMask: false,
  tools: null,
  documents: null,
});

const KNOWN = new Set([
  'chatTemplate', 'tokenizerConfig', 'templateName', 'tokenizer', 'tokenize', 'addGenerationPrompt',
  'continueFinalMessage', 'returnAssistantTokensMask', 'specialTokens', 'tools', 'documents', 'templateKwargs', 'now',
]);
const RESERVED_KWARGS = ['messages', 'tools', 'documents', 'add_generation_prompt'];
const SOURCE = 'applyChatTemplate';

/** Options with defaults applied and cross-field rules checked. */
export interface ResolvedOptions extends ApplyChatTemplateOptions {
  tokenize: boolean;
  addGenerationPrompt: boolean;
  continueFinalMessage: boolean;
  returnAssistantTokensMask: boolean;
  tools: Record<string, unknown>[] | null;
  documents: Record<string, unknown>[] | null;
  templateKwargs: Record<string, unknown>;
  specialTokens: SpecialTokens;
}

/**
 * Applies the defaults and checks every field; a `ConfigError` names the field and what it may
 * hold. Unknown keys are errors (a misspelt `addGenerationPromt` would otherwise be silently
 * ignored); template variables go in `templateKwargs`.
 *
 * @example
 * ```ts
 * validateChatTemplateOptions({ addGenerationPrompt: 'yes' });
 * // ConfigError: applyChatTemplate: invalid value for "addGenerationPrompt": expected true or false, got "yes"
 * ```
 */
export function validateChatTemplateOptions(opts: ApplyChatTemplateOptions = {}): ResolvedOptions {
  if (typeof opts !== 'object' || opts === null) throw new ConfigError('options', 'an object', opts, SOURCE);
  for (const key of Object.keys(opts)) {
    if (!KNOWN.has(key)) {
      throw new ConfigError(key, `one of the known options (${[...KNOWN].join(', ')}); template variables go in templateKwargs`, (opts as Record<string, unknown>)[key], SOURCE);
    }
  }
  for (const key of ['tokenize', 'addGenerationPrompt', 'continueFinalMessage', 'returnAssistantTokensMask'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw new ConfigError(key, 'true or false', opts[key], SOURCE);
  }
  for (const key of ['chatTemplate', 'templateName'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'string') throw new ConfigError(key, 'a string', opts[key], SOURCE);
  }
  if (opts.tokenizerConfig !== undefined && !isPlainObject(opts.tokenizerConfig)) {
    throw new ConfigError('tokenizerConfig', 'a parsed tokenizer_config.json object', opts.tokenizerConfig, SOURCE);
  }
  if (opts.tokenizer !== undefined && typeof opts.tokenizer?.encode !== 'function') {
    throw new ConfigError('tokenizer', 'an object with encode(text, {addSpecialTokens}) => number[]', typeof opts.tokenizer, SOURCE);
  }
  if (opts.now !== undefined && !(opts.now instanceof Date && !Number.isNaN(opts.now.getTime()))) {
    throw new ConfigError('now', 'a valid Date', opts.now, SOURCE);
  }
  checkObjectList('tools', opts.tools);
  checkObjectList('documents', opts.documents);
  for (const key of ['specialTokens', 'templateKwargs'] as const) {
    if (opts[key] !== undefined && !isPlainObject(opts[key])) throw new ConfigError(key, 'an object', opts[key], SOURCE);
  }
  for (const k of RESERVED_KWARGS) {
    if (opts.templateKwargs && k in opts.templateKwargs) {
      throw new ConfigError(`templateKwargs.${k}`, `nothing: "${k}" is set by applyChatTemplate itself`, opts.templateKwargs[k], SOURCE);
    }
  }
  const r: ResolvedOptions = {
    ...CHAT_TEMPLATE_DEFAULTS,
    ...opts,
    tokenize: opts.tokenize ?? opts.tokenizer !== undefined,
    tools: opts.tools ?? null,
    documents: opts.documents ?? null,
    templateKwargs: opts.templateKwargs ?? {},
    specialTokens: opts.specialTokens ?? {},
  } as ResolvedOptions;
  if (r.tokenize && !r.tokenizer) throw new ConfigError('tokenizer', 'a tokenizer when tokenize is true', undefined, SOURCE);
  if (r.returnAssistantTokensMask && !r.tokenize) {
    throw new ConfigError('returnAssistantTokensMask', 'false unless a tokenizer is given and tokenize is not false', true, SOURCE);
  }
  if (r.continueFinalMessage && r.addGenerationPrompt) {
    throw new ConfigError('continueFinalMessage', 'false when addGenerationPrompt is true (continue the last message, or start a new one, not both)', true, SOURCE);
  }
  if (r.continueFinalMessage && r.returnAssistantTokensMask) {
    throw new ConfigError('continueFinalMessage', 'false when returnAssistantTokensMask is true (an open final turn has no end to mask)', true, SOURCE);
  }
  return r;
}

function checkObjectList(field: string, v: unknown): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) throw new ConfigError(field, 'an array of objects, or null', v, SOURCE);
  v.forEach((x, i) => {
    if (!isPlainObject(x)) throw new ConfigError(`${field}[${i}]`, 'an object (a JSON schema / document)', x, SOURCE);
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
