/**
 * Chat prompts with the tokenizer's own template (applyChatTemplate), as the pipeline and the
 * chat REPL need them. Qwen3's template is asked for no thinking block, so prompts match how
 * the model was trained on plain question/answer turns.
 */
import { applyChatTemplate, type ChatMessage } from '@q/chat-template';
import { ConfigError } from '@q/core';
import type { AutoTokenizer, ChatTemplateFn, PipelineChatMessage } from '@q/model';

function specialTokens(tok: AutoTokenizer): Record<string, string> {
  const s = tok.settings;
  const out: Record<string, string> = {};
  if (s.bosToken) out.bos_token = s.bosToken;
  if (s.eosToken) out.eos_token = s.eosToken;
  if (s.padToken) out.pad_token = s.padToken;
  if (s.unkToken) out.unk_token = s.unkToken;
  return out;
}

/**
 * The tokenizer's chat template as the text-generation pipeline takes it.
 *
 * @example
 * ```ts
 * const generator = pipeline('text-generation', { model, tokenizer: tok, chatTemplate: chatTemplateOf(tok) });
 * ```
 */
export function chatTemplateOf(tok: AutoTokenizer): ChatTemplateFn {
  const template = tok.chatTemplate;
  if (!template) {
    throw new ConfigError('chat_template', 'a chat template in tokenizer_config.json (or chat_template.jinja) for chat input', null, 'tokenizer');
  }
  return (messages: PipelineChatMessage[], o) =>
    applyChatTemplate(messages as ChatMessage[], {
      chatTemplate: template,
      specialTokens: specialTokens(tok),
      addGenerationPrompt: o.addGenerationPrompt,
      continueFinalMessage: o.continueFinalMessage,
      templateKwargs: { enable_thinking: false },
    }).text;
}
