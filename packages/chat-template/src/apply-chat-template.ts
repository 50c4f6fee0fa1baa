import { ConfigError } from '@q/core';
import { deriveAssistantSpans } from './assistant-spans';
import { BUILTIN_TEMPLATE_NAMES, BUILTIN_TEMPLATES, isBuiltinTemplateName } from './builtin-templates';
import { addContinueTag, cutAtContinueTag } from './continue-final-message';
import { extractGenerationSpans, hasGenerationTags, rewriteGenerationTags } from './generation-tags';
import { assertNoMarkers } from './markers';
import { validateChatTemplateOptions, type ApplyChatTemplateOptions, type ResolvedOptions } from './options';
import { renderTemplate } from './render';
import { getChatTemplate, specialTokensFromConfig } from './tokenizer-config';
import { spansToTokenMask } from './token-mask';
import type { CharSpan, ChatMessage, SpecialTokens } from './types';
import { validateMessages } from './validate-messages';

/** What {@link applyChatTemplate} returns. */
export interface ChatTemplateOutput {
  /** The rendered conversation, exactly as transformers' `apply_chat_template(..., tokenize=False)`. */
  text: string;
  /** Token ids of `text`, without added special tokens (when `tokenize`). */
  inputIds?: number[];
  /** 1 for each token of an assistant turn (content and end-of-turn), else 0 (when `returnAssistantTokensMask`). */
  assistantMasks?: number[];
  /** The character spans of `text` the mask was made from (when `returnAssistantTokensMask`). */
  assistantSpans?: CharSpan[];
}

/**
 * Renders a conversation with a chat template as transformers' `apply_chat_template` does, and
 * optionally tokenizes it and marks the assistant tokens for completion-only loss.
 *
 * Assistant masks work for any template: from `{% generation %}` blocks when the template has them
 * (as transformers), otherwise derived from the template by rendering conversation prefixes and a
 * content marker (see `deriveAssistantSpans`), so Qwen's and Llama's templates need no edits.
 *
 * @example
 * ```ts
 * const chat = [
 *   { role: 'user', content: 'Hi' },
 *   { role: 'assistant', content: 'Hello!' },
 * ];
 * applyChatTemplate(chat, { templateName: 'qwen2.5' }).text;
 * // '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n'
 * //   + '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n'
 * const { inputIds, assistantMasks } = applyChatTemplate(chat, {
 *   tokenizerConfig, tokenizer, returnAssistantTokensMask: true,
 * });
 * ```
 */
export function applyChatTemplate(messages: ChatMessage[], options: ApplyChatTemplateOptions = {}): ChatTemplateOutput {
  validateMessages(messages);
  const opts = validateChatTemplateOptions(options);
  const { template, specialTokens } = resolveTemplate(opts);
  const now = opts.now ?? new Date();
  const tagged = hasGenerationTags(template);
  if (tagged || opts.returnAssistantTokensMask) assertNoMarkers(messages);
  const source = tagged ? rewriteGenerationTags(template) : template;

  // One render with the user's options; every other render (for masks) varies only the messages
  // and the generation prompt.
  const renderMarked = (msgs: ChatMessage[], addGenerationPrompt: boolean) =>
    renderTemplate(source, {
      messages: msgs,
      addGenerationPrompt,
      tools: opts.tools,
      documents: opts.documents,
      specialTokens,
      templateKwargs: opts.templateKwargs,
      now: () => now,
    });
  const render = (msgs: ChatMessage[], agp: boolean) => extractGenerationSpans(renderMarked(msgs, agp)).text;

  let toRender = messages;
  let finalText = '';
  if (opts.continueFinalMessage) ({ messages: toRender, finalText } = addContinueTag(messages));
  const marked = renderMarked(toRender, opts.addGenerationPrompt);
  let { text, spans } = extractGenerationSpans(marked);
  if (opts.continueFinalMessage) text = cutAtContinueTag(text, finalText);

  const out: ChatTemplateOutput = { text };
  if (opts.returnAssistantTokensMask) {
    const assistantSpans = tagged ? spans.filter(([s, e]) => e > s) : deriveAssistantSpans(render, messages, text, opts.addGenerationPrompt);
    const { inputIds, mask } = spansToTokenMask(text, assistantSpans, opts.tokenizer!);
    out.inputIds = inputIds;
    out.assistantMasks = mask;
    out.assistantSpans = assistantSpans;
  } else if (opts.tokenize) {
    out.inputIds = opts.tokenizer!.encode(text, { addSpecialTokens: false });
  }
  return out;
}

/**
 * The text of {@link applyChatTemplate}, without tokenizing: the equivalent of transformers'
 * `apply_chat_template(chat, tokenize=False)`.
 *
 * @example
 * ```ts
 * renderChatTemplate([{ role: 'user', content: 'Hi' }], { templateName: 'zephyr', addGenerationPrompt: true });
 * // '<|user|>\nHi</s>\n<|assistant|>\n'
 * ```
 */
export function renderChatTemplate(messages: ChatMessage[], options: Omit<ApplyChatTemplateOptions, 'tokenize' | 'returnAssistantTokensMask'> = {}): string {
  return applyChatTemplate(messages, { ...options, tokenize: false }).text;
}

function resolveTemplate(opts: ResolvedOptions): { template: string; specialTokens: SpecialTokens } {
  const config = opts.tokenizerConfig;
  const fromConfig = config ? specialTokensFromConfig(config) : {};
  if (opts.chatTemplate !== undefined) return { template: opts.chatTemplate, specialTokens: { ...fromConfig, ...opts.specialTokens } };
  const name = opts.templateName;
  const configHasName = Array.isArray(config?.chat_template) && config.chat_template.some((t) => t?.name === name);
  if (config && (name === undefined || configHasName || !isBuiltinTemplateName(name))) {
    const template = getChatTemplate(config, name, { hasTools: opts.tools !== null });
    return { template, specialTokens: { ...fromConfig, ...opts.specialTokens } };
  }
  if (isBuiltinTemplateName(name)) {
    const b = BUILTIN_TEMPLATES[name];
    return { template: b.template, specialTokens: { ...b.specialTokens, ...fromConfig, ...opts.specialTokens } };
  }
  throw new ConfigError(
    name === undefined ? 'chatTemplate' : 'templateName',
    `a template: chatTemplate (Jinja source), tokenizerConfig, or templateName one of ${BUILTIN_TEMPLATE_NAMES.map((n) => JSON.stringify(n)).join(', ')}`,
    name,
    'applyChatTemplate',
  );
}
