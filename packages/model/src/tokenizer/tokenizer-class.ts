/**
 * What transformers' tokenizer class (tokenizer_config.json's `tokenizer_class`) adds on top of
 * tokenizer.json. Since transformers 5 a class that defines its own `__init__` does not load
 * tokenizer.json's pipeline as saved: it takes only the vocabulary and merges and builds the
 * normalizer, pre-tokenizer and decoder itself (`TokenizersBackend.convert_to_native_format`).
 * Classes also carry defaults, such as `padding_side`, that the config may leave out.
 */

/** Classes whose `padding_side` class attribute is "left" (transformers 4.x `*Fast` and 5.x names). */
const LEFT_PADDING_CLASSES = new Set([
  'LlamaTokenizer', 'LlamaTokenizerFast', // models/llama/tokenization_llama(_fast).py
  'CodeLlamaTokenizer', 'CodeLlamaTokenizerFast', // models/code_llama
  'GemmaTokenizer', 'GemmaTokenizerFast', // models/gemma
  'CohereTokenizer', 'CohereTokenizerFast', // models/cohere
]);

/**
 * Side transformers pads on when tokenizer_config.json has no `padding_side`: the class
 * attribute, which is "right" on PreTrainedTokenizerBase and "left" on the classes above.
 *
 * @example
 * ```ts
 * defaultPaddingSide('LlamaTokenizerFast') // 'left'
 * defaultPaddingSide('Qwen2Tokenizer') // 'right'
 * ```
 */
export function defaultPaddingSide(tokenizerClass: unknown): 'left' | 'right' {
  return typeof tokenizerClass === 'string' && LEFT_PADDING_CLASSES.has(tokenizerClass) ? 'left' : 'right';
}

/**
 * tokenizer.json with the normalizer, pre-tokenizer and decoder replaced by those transformers'
 * class builds, where they differ in behaviour from what was saved; otherwise `tokenizerJson` itself.
 *
 * Llama (transformers 5 `LlamaTokenizer`, aliased as `LlamaTokenizerFast`): no normalizer and a
 * `Metaspace` pre-tokenizer (▁ for space, `split: false`) whose prepend scheme comes from
 * `add_prefix_space` (default true) and `legacy` (default false): "always" when legacy, "first"
 * otherwise, "never" without a prefix space. Saved Llama/Mistral tokenizer.json files instead carry
 * a `Prepend("▁")` + `Replace(" ", "▁")` normalizer, which prepends even when the text already
 * starts with a space: "  hi" becomes "▁▁▁hi" there but "▁▁hi" with Metaspace, which only prepends
 * to text that does not already start with ▁. Metaspace also does not prepend to a piece after
 * an added token under "first" (`legacy: false`).
 *
 * @example
 * ```ts
 * withClassPipeline(json, { tokenizer_class: 'LlamaTokenizer', legacy: true }).pre_tokenizer
 * // { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false }
 * ```
 */
export function withClassPipeline(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>): Record<string, unknown> {
  const cls = config.tokenizer_class;
  if (cls !== 'LlamaTokenizer' && cls !== 'LlamaTokenizerFast') return tokenizerJson;
  // NOTE: transformers 5 does this to any vocabulary, even a GPT-2 byte-level one saved under the
  // Llama class (Llama 3 derivatives, DeepSeek), where ▁ pre-tokenization gives wrong ids. Only a
  // SentencePiece-style BPE (▁ for space, byte fallback) is rebuilt here; others keep their pipeline.
  const model = tokenizerJson.model as { type?: unknown; byte_fallback?: unknown } | undefined;
  if (model?.type !== 'BPE' || model.byte_fallback !== true || !JSON.stringify(tokenizerJson.decoder ?? null).includes('▁')) {
    return tokenizerJson;
  }
  const addPrefixSpace = config.add_prefix_space == null ? true : config.add_prefix_space === true;
  const legacy = config.legacy === true;
  const prependScheme = !addPrefixSpace ? 'never' : legacy ? 'always' : 'first';
  const decoders: unknown[] = [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  // Strips the space the prefix ▁ decodes to.
  if (addPrefixSpace) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  return {
    ...tokenizerJson,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: prependScheme, split: false },
    decoder: { type: 'Sequence', decoders },
  };
}
