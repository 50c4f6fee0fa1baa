import { applyChatTemplate, type ApplyChatTemplateOptions, type ChatMessage, type TokenizerConfigJson } from '@q/chat-template';

/** Options of {@link AutoTokenizer.applyChatTemplate}: @q/chat-template's, minus what the tokenizer supplies. */
export type ChatTemplateCallOptions = Omit<ApplyChatTemplateOptions, 'tokenizer' | 'tokenizerConfig' | 'tokenize' | 'returnAssistantTokensMask'>;
import { Tokenizer } from '@huggingface/tokenizers';
import { ConfigError, FormatError, ValueError } from '@q/core';
import { padBatch, type BatchEncoding, type BatchOptions } from './pad-batch';
import { alignOffsets } from './offsets';
import { readTokenizerSettings, type TokenizerSettings } from './special-tokens';
import { withClassPipeline } from './tokenizer-class';
import { vocabStyle, vocabTokenBytes, type VocabStyle } from './token-bytes';

/** Options of {@link AutoTokenizer.encode}. */
export interface EncodeOptions {
  /** Add the tokens the tokenizer's post-processor adds (Llama's `<s>`). Default true. */
  addSpecialTokens?: boolean;
}

/** Options of {@link AutoTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (bos, eos, pad, `<|im_start|>`...). Default false. */
  skipSpecialTokens?: boolean;
}

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) with the special tokens,
 * padding and chat template that training needs. Encoding is done by @huggingface/tokenizers;
 * character offsets, padding and truncation are added here.
 *
 * @example
 * ```ts
 * const tok = await AutoTokenizer.fromPretrained('models/Qwen2.5-0.5B-Instruct');
 * const ids = tok.encode('Hello world'); // [9707, 1879]
 * tok.decode(ids) // 'Hello world'
 * ```
 */
export class AutoTokenizer {
  /** Special tokens, chat template and padding settings from tokenizer_config.json. */
  readonly settings: TokenizerSettings;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  /** Largest token id + 1, added tokens included (the embedding needs at least this many rows). */
  readonly vocabSize: number;

  private readonly style: VocabStyle | undefined;
  private readonly addedById = new Map<number, { content: string; special: boolean }>();

  private constructor(
    private readonly tokenizer: Tokenizer,
    tokenizerJson: Record<string, unknown>,
    settings: TokenizerSettings,
    source: string,
    /** The parsed tokenizer_config.json (special tokens, chat templates). */
    readonly tokenizerConfig: Record<string, unknown> = {},
  ) {
    this.settings = settings;
    for (const t of (tokenizerJson.added_tokens ?? []) as Array<{ id: number; content: string; special?: boolean }>) {
      this.addedById.set(t.id, { content: t.content, special: t.special === true });
    }
    const id = (field: string, token: string | null): number | null => {
      if (token === null) return null;
      const v = tokenizer.token_to_id(token);
      if (v === undefined) throw new ConfigError(field, `a token in the vocabulary of ${source}`, token, 'tokenizer_config.json');
      return v;
    };
    this.bosTokenId = id('bos_token', settings.bosToken);
    this.eosTokenId = id('eos_token', settings.eosToken);
    this.padTokenId = id('pad_token', settings.padToken);
    this.unkTokenId = id('unk_token', settings.unkToken);
    let maxId = -1;
    for (const v of tokenizer.get_vocab(true).values()) if (v > maxId) maxId = v;
    this.vocabSize = maxId + 1;
    this.style = vocabStyle(tokenizerJson);
  }

  /**
   * Builds a tokenizer from the parsed JSON of tokenizer.json and tokenizer_config.json; works in
   * browsers. A malformed tokenizer.json is a FormatError.
   *
   * @example
   * ```ts
   * const tok = AutoTokenizer.fromJSON(await (await fetch(u1)).json(), await (await fetch(u2)).json());
   * ```
   */
  static fromJSON(tokenizerJson: unknown, tokenizerConfigJson: unknown = {}, source = 'tokenizer.json'): AutoTokenizer {
    if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
      throw new FormatError(source, 'expected a tokenizer.json object with a "model" section');
    }
    if (!isObject(tokenizerConfigJson)) {
      throw new FormatError('tokenizer_config.json', 'expected a JSON object');
    }
    const settings = readTokenizerSettings(tokenizerConfigJson);
    let tokenizer: Tokenizer;
    try {
      // As transformers 5 loads it: the class may rebuild the normalizer/pre-tokenizer (Llama).
      tokenizer = new Tokenizer(withClassPipeline(tokenizerJson, tokenizerConfigJson), tokenizerConfigJson);
    } catch (e) {
      throw new FormatError(source, `cannot build the tokenizer: ${(e as Error).message}`);
    }
    return new AutoTokenizer(tokenizer, tokenizerJson, settings, source, tokenizerConfigJson);
  }

  /**
   * Loads `<dir>/tokenizer.json` and `<dir>/tokenizer_config.json` (Node only). A separate
   * `chat_template.jinja`, as newer transformers save, is used when the config has no template.
   *
   * @example
   * ```ts
   * const tok = await AutoTokenizer.fromPretrained('models/TinyLlama-1.1B-Chat-v1.0');
   * ```
   */
  static async fromPretrained(dir: string): Promise<AutoTokenizer> {
    const { loadTokenizerFiles } = await import('./load-tokenizer-files');
    const { tokenizerJson, tokenizerConfig, source } = await loadTokenizerFiles(dir);
    return AutoTokenizer.fromJSON(tokenizerJson, tokenizerConfig, source);
  }

  /**
   * transformers' `tokenizer.apply_chat_template`: renders `messages` with this tokenizer's own
   * chat template (tokenizer_config.json's, or chat_template.jinja) and its special tokens, then
   * returns the token ids (the template writes the special tokens, so none are added), or the text
   * with `tokenize: false`.
   *
   * @example
   * ```ts
   * const ids = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
   * const [seq] = await model.generate([ids], { maxNewTokens: 32 });
   * ```
   */
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateCallOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateCallOptions & { tokenize: false }): string;
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateCallOptions & { tokenize?: boolean } = {}): number[] | string {
    const { tokenize = true, chatTemplate, ...rest } = options;
    const template = chatTemplate ?? this.chatTemplate;
    if (!template && !rest.templateName) throw new ConfigError('chatTemplate', 'a template: this tokenizer has none (pass chatTemplate or templateName)', null, 'applyChatTemplate');
    const { text } = applyChatTemplate(messages, { ...rest, ...(template ? { chatTemplate: template } : {}), tokenizerConfig: this.tokenizerConfig as TokenizerConfigJson, tokenize: false });
    return tokenize ? this.encode(text, { addSpecialTokens: false }) : text;
  }

  /** The default chat template (Jinja source), or null. */
  get chatTemplate(): string | null {
    return this.settings.chatTemplate;
  }

  /**
   * Token ids of `text`.
   *
   * @example
   * ```ts
   * tok.encode('<|im_start|>user', { addSpecialTokens: false }) // [151644, 872]
   * ```
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /**
   * Token ids with the character span [start, end) of `text` each one covers: transformers'
   * `offset_mapping`, in UTF-16 indices (`text.slice(start, end)`) where Python counts code points.
   * Tokens the post-processor adds (a leading `<s>`) get [0, 0]. Throws ValueError when the tokenizer's
   * normalizer changes the text so that tokens no longer map onto it (non-NFC input to Qwen).
   *
   * @example
   * ```ts
   * tok.encodeWithOffsets('Hello world') // { ids: [9707, 1879], offsets: [[0, 5], [5, 11]] }
   * ```
   */
  encodeWithOffsets(text: string, options: EncodeOptions = {}): { ids: number[]; offsets: Array<[number, number]> } {
    if (this.style === undefined) {
      throw new ValueError('offsets are supported for byte-level (GPT-2 style) and SentencePiece (▁) vocabularies only');
    }
    const inner = this.encode(text, { addSpecialTokens: false });
    const spans = alignOffsets(
      text,
      inner.map((id) => {
        const added = this.addedById.get(id);
        const bytes = added ? new TextEncoder().encode(added.content) : vocabTokenBytes(this.tokenizer.id_to_token(id) ?? '', this.style!);
        if (!bytes) throw new ValueError(`token ${id} has no byte form in this vocabulary`);
        return { bytes, added: added !== undefined };
      }),
    );
    if (!(options.addSpecialTokens ?? true)) return { ids: inner, offsets: spans };
    const ids = this.encode(text);
    const k = findInner(ids, inner);
    const offsets = ids.map((_, i): [number, number] => (i >= k && i < k + inner.length ? spans[i - k] : [0, 0]));
    return { ids, offsets };
  }

  /**
   * Text of `ids`.
   *
   * @example
   * ```ts
   * tok.decode([151644, 872], { skipSpecialTokens: true }) // 'user'
   * ```
   */
  decode(ids: number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new ValueError(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    // The library rejects an empty list; the text of no tokens is the empty string.
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /**
   * Encodes several texts, truncates each to `maxLength` (keeping the special tokens the
   * post-processor adds) and pads them to a common length with an attention mask.
   *
   * @example
   * ```ts
   * tok.encodeBatch(['hi', 'hello there'], { paddingSide: 'left' })
   * // { inputIds: [[pad, pad, 6023], [14990, 1052]], attentionMask: [[0, 0, 1], ...] }
   * ```
   */
  encodeBatch(texts: string[], options: BatchOptions = {}): BatchEncoding {
    const add = options.addSpecialTokens ?? true;
    const rows = texts.map((t) => {
      const inner = this.encode(t, { addSpecialTokens: false });
      if (!add) return { prefix: [], inner, suffix: [] };
      const full = this.encode(t);
      const k = findInner(full, inner);
      return { prefix: full.slice(0, k), inner, suffix: full.slice(k + inner.length) };
    });
    return padBatch(rows, {
      ...options,
      padTokenId: options.padTokenId ?? this.padTokenId,
      paddingSide: options.paddingSide ?? this.settings.paddingSide,
      truncationSide: options.truncationSide ?? this.settings.truncationSide,
    });
  }

  /** Id of a token string (vocabulary or added), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /** True for ids of added tokens marked special (skipped by `skipSpecialTokens`). */
  isSpecialId(id: number): boolean {
    return this.addedById.get(id)?.special === true;
  }
}

/** Where `inner` (encoded without special tokens) sits inside `full`; 0 when it cannot be found. */
function findInner(full: number[], inner: number[]): number {
  for (let k = 0; k + inner.length <= full.length; k++) {
    let ok = true;
    for (let j = 0; j < inner.length && ok; j++) ok = full[k + j] === inner[j];
    if (ok) return k;
  }
  // NOTE: a post-processor that rewrites tokens (not only adds) would land here; no model we load has one.
  throw new ValueError('the tokenizer post-processor changes tokens, not only adds special tokens; offsets and truncation need the unchanged sequence');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
