export { applyChatTemplate, renderChatTemplate, type ChatTemplateOutput } from './apply-chat-template';
export { validateChatTemplateOptions, CHAT_TEMPLATE_DEFAULTS, type ApplyChatTemplateOptions } from './options';
export { validateMessages } from './validate-messages';
export { getChatTemplate, specialTokensFromConfig, type TokenizerConfigJson } from './tokenizer-config';
export {
  BUILTIN_TEMPLATES,
  BUILTIN_TEMPLATE_NAMES,
  isBuiltinTemplateName,
  type BuiltinTemplate,
  type BuiltinTemplateName,
} from './builtin-templates';
export { deriveAssistantSpans, type RenderFn } from './assistant-spans';
export { spansToTokenMask } from './token-mask';
export type { ChatMessage, ChatContentPart, ChatToolCall, ChatTokenizer, EncodeOptions, SpecialTokens, CharSpan } from './types';
