/**
 * Answers to held-out chat questions, before and after training: the quickest way to see that
 * fine-tuning changed the model. Greedy decoding, so the two runs differ only by the weights.
 */
import { pipeline, type AutoTokenizer, type CausalLM, type PipelineChatMessage } from '@q/model';
import { chatTemplateOf } from './chat-format';

export interface PreviewQuestion {
  /** The conversation up to (and including) the last user turn. */
  messages: PipelineChatMessage[];
  /** The dataset's own answer (the last assistant turn). */
  reference: string;
}

/** Chat rows → questions: the last assistant turn is cut off and kept as the reference. */
export function previewQuestions(rows: Iterable<Record<string, unknown>>, count: number): PreviewQuestion[] {
  const out: PreviewQuestion[] = [];
  for (const r of rows) {
    if (out.length >= count) break;
    const m = r.messages;
    if (!Array.isArray(m) || m.length < 2) continue;
    const last = m[m.length - 1] as PipelineChatMessage;
    if (last.role !== 'assistant' || typeof last.content !== 'string') continue;
    out.push({ messages: m.slice(0, -1) as PipelineChatMessage[], reference: last.content });
  }
  return out;
}

/** The user's question of a preview item, for display. */
export function questionText(q: PreviewQuestion): string {
  const user = [...q.messages].reverse().find((m) => m.role === 'user');
  return typeof user?.content === 'string' ? user.content : JSON.stringify(user?.content);
}

export async function answerQuestions(model: CausalLM, tokenizer: AutoTokenizer, qs: PreviewQuestion[], maxNewTokens: number): Promise<string[]> {
  const generator = pipeline('text-generation', { model, tokenizer, chatTemplate: chatTemplateOf(tokenizer) });
  const answers: string[] = [];
  for (const q of qs) {
    const [out] = await generator(q.messages, { maxNewTokens, doSample: false, returnFullText: false, useCache: true });
    answers.push(String(out!.generated_text));
  }
  return answers;
}
