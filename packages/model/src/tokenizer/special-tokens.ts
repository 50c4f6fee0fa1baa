import { ConfigError } from '@q/core';
import { defaultPaddingSide } from './tokenizer-class';

/** Special tokens and settings read from tokenizer_config.json. */
export interface TokenizerSettings {
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  unkToken: string | null;
  additionalSpecialTokens: string[];
  /** The default chat template, or null when the tokenizer has none. */
  chatTemplate: string | null;
  /** Every named template (`default`, `tool_use`, ...); a single string template is `default`. */
  chatTemplates: Record<string, string>;
  /** Side pads go on. Default: the tokenizer class's (left for Llama, Gemma, Cohere; else right), as transformers. */
  paddingSide: 'left' | 'right';
  /** Side truncation cuts from; transformers' default is right. */
  truncationSide: 'left' | 'right';
  /** Longest input the model takes, when the config gives a sensible one. */
  modelMaxLength: number | null;
}

/**
 * Reads tokenizer_config.json. Token fields may be a string, an AddedToken object
 * `{content, ...}` (older transformers write `{"__type": "AddedToken", "content": ...}`) or null.
 *
 * @example
 * ```ts
 * readTokenizerSettings({ eos_token: { content: '</s>' }, padding_side: 'left' }).eosToken // '</s>'
 * ```
 */
export function readTokenizerSettings(config: Record<string, unknown>, source = 'tokenizer_config.json'): TokenizerSettings {
  const token = (field: string): string | null => {
    const v = config[field];
    if (v == null) return null;
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
    throw new ConfigError(field, 'a token string, an AddedToken object {content} or null', v, source);
  };
  const extra = config.additional_special_tokens ?? [];
  if (!Array.isArray(extra)) throw new ConfigError('additional_special_tokens', 'a list of tokens', extra, source);
  const side = (field: string, fallback: 'left' | 'right'): 'left' | 'right' => {
    const v = config[field] ?? fallback;
    if (v !== 'left' && v !== 'right') throw new ConfigError(field, '"left" or "right"', v, source);
    return v;
  };
  const templates = readChatTemplates(config.chat_template, source);
  const max = config.model_max_length;
  return {
    bosToken: token('bos_token'),
    eosToken: token('eos_token'),
    padToken: token('pad_token'),
    unkToken: token('unk_token'),
    additionalSpecialTokens: extra.map((t, i) => {
      if (typeof t === 'string') return t;
      if (t && typeof t.content === 'string') return t.content as string;
      throw new ConfigError(`additional_special_tokens[${i}]`, 'a token string or {content}', t, source);
    }),
    chatTemplate: templates.default ?? null,
    chatTemplates: templates,
    paddingSide: side('padding_side', defaultPaddingSide(config.tokenizer_class)),
    truncationSide: side('truncation_side', 'right'),
    // transformers writes int(1e30) when there is no limit; treat anything absurd as none.
    modelMaxLength: typeof max === 'number' && Number.isSafeInteger(max) && max > 0 ? max : null,
  };
}

/** chat_template as a string, a list of {name, template}, or (in chat_template.jinja era) absent. */
function readChatTemplates(v: unknown, source: string): Record<string, string> {
  if (v == null) return {};
  if (typeof v === 'string') return { default: v };
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (const [i, t] of v.entries()) {
      if (!t || typeof t.name !== 'string' || typeof t.template !== 'string') {
        throw new ConfigError(`chat_template[${i}]`, 'an object {name, template} of strings', t, source);
      }
      out[t.name] = t.template;
    }
    return out;
  }
  throw new ConfigError('chat_template', 'a string or a list of {name, template}', v, source);
}
