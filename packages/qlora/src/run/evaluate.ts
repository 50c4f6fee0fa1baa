/**
 * Evaluation of any causal LM (plain, 4-bit or with LoRA) over a dataset: mean token loss,
 * perplexity = exp(loss), and exact match of greedy answers to chat questions.
 *
 * - Loss is taken where training takes it: on assistant turns for chat rows (assistant-only
 *   loss), on the completion for prompt/completion rows, on every token of plain text. It is the
 *   mean over all such tokens of the dataset (not a mean of per-batch means).
 * - Exact match: for each chat row ending in an assistant turn, the conversation before that turn
 *   is answered greedily; an answer counts when it equals the reference after trimming whitespace.
 */
import { keep, noGrad, tidy, zeros } from '@q/core';
import { addInPlace } from '@q/core/kernel';
import type { AutoTokenizer, CausalLM } from '@q/model';
import { generateWithDetails } from '@q/model';
import { PeftModel } from '@q/lora';
import { collate, tokenizeRows } from '@q/sft';
import { chatTemplateOf } from './chat-format';
import { previewQuestions } from './preview';

export interface EvaluateOptions {
  /** Rows per forward pass (loss) and per generate() call (exact match). Default 8. */
  batchSize?: number;
  /** Truncate sequences to this many tokens; null = none. Default 1024. */
  maxLength?: number | null;
  /** Column of plain-text rows. Default 'text'. */
  textField?: string;
  /** Compute exact match on chat rows (greedy generation). Default true. */
  exactMatch?: boolean;
  /** Tokens per answer: at most this many, and never more than the reference's tokens + 8. Default 64. */
  maxNewTokens?: number;
  /** Called after each answer (for a progress bar). */
  onAnswer?: (done: number, total: number) => void;
}

export interface EvalSample {
  question: string;
  reference: string;
  answer: string;
  correct: boolean;
}

export interface EvalResult {
  rows: number;
  /** Tokens the loss was taken on. */
  lossTokens: number;
  loss: number;
  perplexity: number;
  /** Fraction of answered questions that matched; null when not computed or no chat question. */
  exactMatch: number | null;
  samples: EvalSample[];
  /** Wall-clock seconds the measurement took. */
  seconds: number;
}

/** The comparison exact match uses: equal after trimming surrounding whitespace. */
export function isExactMatch(answer: string, reference: string): boolean {
  return answer.trim() === reference.trim();
}

/** Mean of `correct` over samples, or null for none. */
export function exactMatchScore(samples: readonly { correct: boolean }[]): number | null {
  return samples.length ? samples.filter((s) => s.correct).length / samples.length : null;
}

function causalOf(model: CausalLM | PeftModel): CausalLM {
  return model instanceof PeftModel ? model.base : model;
}

/** Sum of token losses and the count of tokens over `rows`, as training would take them. */
export async function datasetLoss(model: CausalLM | PeftModel, tokenizer: AutoTokenizer, rows: Record<string, unknown>[], o: EvaluateOptions = {}): Promise<{ sum: number; tokens: number }> {
  const { examples } = tokenizeRows(rows, tokenizer, {
    datasetTextField: o.textField ?? 'text',
    maxLength: o.maxLength === undefined ? 1024 : o.maxLength,
    completionOnlyLoss: null,
    assistantOnlyLoss: rows.some((r) => Array.isArray(r.messages)),
    appendEos: true,
  });
  const pad = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  const b = o.batchSize ?? 8;
  const total = keep(zeros([], { dev: causalOf(model).dev }));
  let tokens = 0;
  try {
    for (let i = 0; i < examples.length; i += b) {
      const batch = collate(examples.slice(i, i + b), pad);
      noGrad(() =>
        tidy(() => {
          const out = model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, labels: batch.labels, lossNormalizer: 1 });
          addInPlace(total, out.loss!);
        }),
      );
      tokens += batch.numItems;
    }
    return { sum: await total.item(), tokens };
  } finally {
    total.release();
  }
}

/** Every row's tokens are real: a mask of ones per row (generate left-pads them). */
function leftAlignedMask(ids: number[][]): number[][] {
  return ids.map((r) => r.map(() => 1));
}

/** Greedy answers to the chat rows' last user turn, compared with their last assistant turn. */
export async function exactMatchSamples(model: CausalLM | PeftModel, tokenizer: AutoTokenizer, rows: Record<string, unknown>[], o: EvaluateOptions = {}): Promise<EvalSample[]> {
  const qs = previewQuestions(rows, Infinity);
  const template = chatTemplateOf(tokenizer);
  const lm = causalOf(model);
  const samples: EvalSample[] = [];
  const b = o.batchSize ?? 8;
  for (let i = 0; i < qs.length; i += b) {
    const batch = qs.slice(i, i + b);
    const ids = batch.map((q) => tokenizer.encode(template(q.messages, { addGenerationPrompt: true, continueFinalMessage: false }), { addSpecialTokens: false }));
    const refTokens = Math.max(...batch.map((q) => tokenizer.encode(q.reference, { addSpecialTokens: false }).length));
    // Rows of a batch are left-padded together (pad = eos is fine: the mask is built from lengths).
    const res = await generateWithDetails(lm, ids, {
      attentionMask: leftAlignedMask(ids),
      maxNewTokens: Math.min(o.maxNewTokens ?? 64, refTokens + 8),
      doSample: false,
      eosTokenId: tokenizer.eosTokenId,
      padTokenId: tokenizer.padTokenId ?? tokenizer.eosTokenId ?? undefined,
      useCache: true,
    });
    batch.forEach((q, k) => {
      const answer = tokenizer.decode(res.newTokens[k]!, { skipSpecialTokens: true });
      const user = [...q.messages].reverse().find((m) => m.role === 'user');
      samples.push({ question: String(user?.content ?? ''), reference: q.reference, answer, correct: isExactMatch(answer, q.reference) });
    });
    o.onAnswer?.(Math.min(i + b, qs.length), qs.length);
  }
  return samples;
}

/**
 * @example
 * ```ts
 * const r = await evaluateModel(model, tokenizer, rows, { maxNewTokens: 32 });
 * console.log(r.loss, r.perplexity, r.exactMatch);
 * ```
 */
export async function evaluateModel(model: CausalLM | PeftModel, tokenizer: AutoTokenizer, rows: Record<string, unknown>[], o: EvaluateOptions = {}): Promise<EvalResult> {
  const wasTraining = model instanceof PeftModel && model.isTraining;
  if (model instanceof PeftModel) model.eval();
  const lm = causalOf(model);
  const t0 = Date.now();
  const useCache = lm.useCache;
  lm.useCache = true;
  try {
    const { sum, tokens } = await datasetLoss(model, tokenizer, rows, o);
    const loss = sum / Math.max(tokens, 1);
    const samples = o.exactMatch === false ? [] : await exactMatchSamples(model, tokenizer, rows, o);
    return { rows: rows.length, lossTokens: tokens, loss, perplexity: Math.exp(loss), exactMatch: exactMatchScore(samples), samples, seconds: (Date.now() - t0) / 1000 };
  } finally {
    lm.useCache = useCache;
    if (wasTraining) (model as PeftModel).train();
  }
}
