/**
 * The shapes that cross this package's boundary: chat messages as transformers and the OpenAI
 * format spell them (snake_case keys, because templates read them by those names), special tokens,
 * and the tokenizer this package needs (only `encode`).
 */

/** One part of a multi-part message content, e.g. `{ type: 'text', text: 'Hi' }`. */
export interface ChatContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

/** A tool call made by the assistant, in the OpenAI / transformers shape. */
export interface ChatToolCall {
  type?: string;
  id?: string;
  function?: { name: string; arguments: Record<string, unknown> | string };
  [key: string]: unknown;
}

/**
 * A chat message. `role` is free-form because templates define their own roles (`tool`,
 * `ipython`, `developer`, ...); `content` may be null only for an assistant turn that makes tool
 * calls. Extra keys (`reasoning_content`, `name`, ...) are passed to the template unchanged.
 */
export interface ChatMessage {
  role: string;
  content?: string | ChatContentPart[] | null;
  tool_calls?: ChatToolCall[];
  reasoning_content?: string | null;
  [key: string]: unknown;
}

/**
 * Special tokens visible to the template, as in transformers' `special_tokens_map`
 * (`bos_token`, `eos_token`, `unk_token`, `pad_token`, ..., `additional_special_tokens`).
 */
export type SpecialTokens = Record<string, string | string[]>;

/** Options for {@link ChatTokenizer.encode}. */
export interface EncodeOptions {
  /** Add BOS/EOS as the tokenizer's post-processor would. This package always passes `false`. */
  addSpecialTokens?: boolean;
}

/**
 * The tokenizer this package needs. Implement it over any tokenizer (e.g. @huggingface/tokenizers).
 * `encodeWithOffsets`, when present, must return offsets as UTF-16 indices into `text` (JS string
 * indices), end-exclusive; it makes assistant masks exact for every template and tokenizer.
 *
 * @example
 * ```ts
 * const tok = new Tokenizer(tokenizerJson, tokenizerConfig);
 * const chatTokenizer: ChatTokenizer = {
 *   encode: (text, o) => tok.encode(text, { add_special_tokens: o?.addSpecialTokens ?? true }).ids,
 * };
 * ```
 */
export interface ChatTokenizer {
  encode(text: string, opts?: EncodeOptions): number[];
  encodeWithOffsets?(text: string, options?: { addSpecialTokens?: boolean }): { ids: number[]; offsets: [number, number][] };
}

/** A half-open character range `[start, end)` of the rendered text (UTF-16 indices). */
export type CharSpan = [start: number, end: number];
