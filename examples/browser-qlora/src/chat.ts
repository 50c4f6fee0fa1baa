/**
 * Chat prompts for the page: the tokenizer's own chat template when it has one (transformers'
 * apply_chat_template), else Zephyr's, which TinyLlama's chat models use.
 */
import { applyChatTemplate, type ChatMessage } from '@q/chat-template';
import { pipeline, type AutoTokenizer, type CausalLM, type ChatTemplateFn, type PipelineChatMessage } from '@q/model';
import type { Answer } from './protocol';

export function chatTemplate(tok: AutoTokenizer): ChatTemplateFn {
  const s = tok.settings;
  const specialTokens: Record<string, string> = {};
  if (s.bosToken) specialTokens.bos_token = s.bosToken;
  if (s.eosToken) specialTokens.eos_token = s.eosToken;
  return (messages: PipelineChatMessage[], o) =>
    applyChatTemplate(messages as ChatMessage[], {
      ...(tok.chatTemplate ? { chatTemplate: tok.chatTemplate } : { templateName: 'zephyr' }),
      specialTokens,
      addGenerationPrompt: o.addGenerationPrompt,
      continueFinalMessage: o.continueFinalMessage,
    }).text;
}

/** Held-out chat rows → questions, with the last assistant turn kept as the reference. */
export function heldOutQuestions(rows: Iterable<Record<string, unknown>>, count: number): { messages: PipelineChatMessage[]; reference: string }[] {
  const out: { messages: PipelineChatMessage[]; reference: string }[] = [];
  for (const r of rows) {
    if (out.length >= count) break;
    if (Array.isArray(r.messages) && r.messages.length >= 2) {
      const last = r.messages[r.messages.length - 1] as PipelineChatMessage;
      if (last.role === 'assistant' && typeof last.content === 'string') out.push({ messages: r.messages.slice(0, -1) as PipelineChatMessage[], reference: last.content });
    } else if (typeof r.prompt === 'string' && typeof r.completion === 'string') {
      out.push({ messages: [{ role: 'user', content: r.prompt }], reference: r.completion });
    }
  }
  return out;
}

/** Greedy answers, so before and after differ only by the weights. */
export async function answer(model: CausalLM, tok: AutoTokenizer, qs: { messages: PipelineChatMessage[]; reference: string }[], maxNewTokens: number): Promise<Answer[]> {
  const gen = pipeline('text-generation', { model, tokenizer: tok, chatTemplate: chatTemplate(tok) });
  const out: Answer[] = [];
  for (const q of qs) {
    const [r] = await gen(q.messages, { maxNewTokens, doSample: false, returnFullText: false, useCache: true });
    const user = [...q.messages].reverse().find((m) => m.role === 'user');
    out.push({ question: String(user?.content ?? ''), answer: String(r!.generated_text).trim(), reference: q.reference });
  }
  return out;
}
