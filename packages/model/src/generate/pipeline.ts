/**
 * transformers' `pipeline('text-generation')`: text (or a chat) in, `[{ generated_text }]` out,
 * with tokenization, left padding, generation and decoding in between.
 */
import { ConfigError } from '@q/core';
import type { CausalLM } from '../modules/causal-lm';
import type { GenerationConfig } from './generation-config';
import { generateContinuous } from './continuous';
import { generateWithDetails, type GenerateOptions } from './generate';

/** A chat message as transformers and the OpenAI format spell it. */
export interface PipelineChatMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

/**
 * Renders a chat to prompt text. @q/model does not depend on @q/chat-template (it depends on
 * us); pass its `applyChatTemplate`:
 *
 * ```ts
 * import { applyChatTemplate } from '@q/chat-template';
 * const chatTemplate: ChatTemplateFn = (messages, o) =>
 *   applyChatTemplate(messages, { chatTemplate: tok.chatTemplate!, specialTokens: { eos_token: '<|im_end|>' }, ...o }).text;
 * ```
 */
export type ChatTemplateFn = (
  messages: PipelineChatMessage[],
  options: { addGenerationPrompt: boolean; continueFinalMessage: boolean },
) => string;

/** The tokenizer the pipeline needs; AutoTokenizer fits. */
export interface PipelineTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
}

export interface TextGenerationPipelineOptions {
  model: CausalLM;
  tokenizer: PipelineTokenizer;
  /** Renders chat input (see {@link ChatTemplateFn}); chat input without it is an error. Default: none. */
  chatTemplate?: ChatTemplateFn;
  /** The model's generation_config.json (`loadGenerationConfig(dir)`), over the pipeline defaults. Default: `model.generationConfig` (what fromPretrained read). */
  generationConfig?: GenerationConfig | null;
}

/** Options of one pipeline call: generation options plus the pipeline's own. */
export interface TextGenerationCallOptions extends Omit<GenerateOptions, 'attentionMask' | 'tokenizer'> {
  /** generated_text holds the prompt (or the chat) too. Default true. */
  returnFullText?: boolean;
  /** Add the tokenizer's special tokens to text prompts (chat prompts never: the template writes them). Default true. */
  addSpecialTokens?: boolean;
  /** Continue the last (assistant) message instead of starting a new turn. Default: true when the last message is the assistant's. */
  continueFinalMessage?: boolean;
  /** Prompts decoded at once. Default 1 (transformers'). */
  batchSize?: number;
  /**
   * With a list of inputs and batchSize > 1, greedy: a finished prompt's row takes the next prompt
   * at once (continuous batching; one sequence per prompt, no beams, no streamer). Otherwise, or
   * with false: batches of batchSize left-padded prompts, each run to its end (sampling stays
   * there, where the fused decoder samples on the GPU). Default true.
   */
  continuousBatching?: boolean;
}

export type TextGenerationInput = string | PipelineChatMessage[];
export interface TextGenerationOutput {
  /** Prompt + continuation (text input), the chat with the reply appended (chat input), or only the new text with returnFullText false. */
  generated_text: string | PipelineChatMessage[];
}

export interface TextGenerationPipeline {
  (input: TextGenerationInput, options?: TextGenerationCallOptions): Promise<TextGenerationOutput[]>;
  (input: TextGenerationInput[], options?: TextGenerationCallOptions): Promise<TextGenerationOutput[][]>;
}

/**
 * transformers' text-generation pipeline defaults (GenerationConfig(max_new_tokens=256,
 * do_sample=True, temperature=0.7)); the model's generation config and the call override them.
 */
export const TEXT_GENERATION_DEFAULTS: Readonly<GenerationConfig> = Object.freeze({ maxNewTokens: 256, doSample: true, temperature: 0.7 });

/**
 * Builds a text-generation pipeline. A single input gives `[{ generated_text }]`, a list of inputs
 * one such list per input, as transformers does.
 *
 * @example
 * ```ts
 * const generator = pipeline('text-generation', { model, tokenizer, generationConfig: await loadGenerationConfig(dir) });
 * const [{ generated_text }] = await generator('Once upon a time', { maxNewTokens: 20, doSample: false });
 * const [chat] = await generator([{ role: 'user', content: 'Hi' }]); // needs `chatTemplate`
 * ```
 */
export function pipeline(task: 'text-generation', options: TextGenerationPipelineOptions): TextGenerationPipeline {
  if (task !== 'text-generation') throw new ConfigError('task', '"text-generation"', task, 'pipeline');
  const { model, tokenizer, chatTemplate, generationConfig } = options;
  if (!model || !tokenizer) throw new ConfigError(model ? 'tokenizer' : 'model', 'an object', model ? tokenizer : model, 'pipeline');

  const run = async (input: TextGenerationInput | TextGenerationInput[], call: TextGenerationCallOptions = {}) => {
    const { returnFullText = true, addSpecialTokens, continueFinalMessage, batchSize = 1, continuousBatching = true, ...gen } = call;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError('batchSize', 'an integer >= 1', batchSize, 'pipeline');
    const single = typeof input === 'string' || isChat(input);
    const inputs = (single ? [input] : input) as TextGenerationInput[];
    const prompts = inputs.map((x) => preparePrompt(x, tokenizer, chatTemplate, addSpecialTokens, continueFinalMessage));
    const genOpts: GenerateOptions = {
      eosTokenId: tokenizer.eosTokenId,
      padTokenId: tokenizer.padTokenId ?? undefined,
      ...TEXT_GENERATION_DEFAULTS,
      ...definedOnly(generationConfig ?? model.generationConfig ?? {}),
      ...definedOnly(gen),
      tokenizer,
    };
    const out: TextGenerationOutput[][] = [];
    /** As transformers: decode prompt + new tokens without special tokens and cut the decoded prompt off. */
    const result = (p: Prompt, t: number[]): TextGenerationOutput => {
      const promptText = tokenizer.decode(p.ids, { skipSpecialTokens: true });
      const newText = tokenizer.decode([...p.ids, ...t], { skipSpecialTokens: true }).slice(promptText.length);
      return { generated_text: returnFullText ? p.full(newText) : newText };
    };
    const continuous =
      continuousBatching && batchSize > 1 && prompts.length > 1 && !genOpts.doSample && (genOpts.numBeams ?? 1) === 1 && (genOpts.numReturnSequences ?? 1) === 1 &&
      !genOpts.streamer && (genOpts.useCache ?? model.useCache);
    if (continuous) {
      const res = await generateContinuous(model, prompts.map((p) => p.ids), batchSize, genOpts);
      prompts.forEach((p, i) => out.push([result(p, res.newTokens[i]!)]));
      return single ? out[0]! : out;
    }
    for (let i = 0; i < prompts.length; i += batchSize) {
      const batch = prompts.slice(i, i + batchSize);
      const res = await generateWithDetails(model, batch.map((p) => p.ids), genOpts);
      // numReturnSequences (sampling or beams) gives each prompt that many consecutive rows.
      const per = res.newTokens.length / batch.length;
      batch.forEach((p, b) => out.push(res.newTokens.slice(b * per, (b + 1) * per).map((t) => result(p, t))));
    }
    return single ? out[0]! : out;
  };
  return run as TextGenerationPipeline;
}

interface Prompt {
  ids: number[];
  /** generated_text with returnFullText. */
  full(newText: string): string | PipelineChatMessage[];
}

function preparePrompt(
  x: TextGenerationInput,
  tok: PipelineTokenizer,
  chatTemplate: ChatTemplateFn | undefined,
  addSpecialTokens: boolean | undefined,
  continueFinal: boolean | undefined,
): Prompt {
  if (typeof x === 'string') {
    return { ids: tok.encode(x, { addSpecialTokens: addSpecialTokens ?? true }), full: (t) => x + t };
  }
  if (!isChat(x)) throw new ConfigError('input', 'a string, a list of chat messages {role, content}, or a list of either', x, 'pipeline');
  if (!chatTemplate) {
    throw new ConfigError('chatTemplate', "a function rendering chat messages (e.g. @q/chat-template's applyChatTemplate), for chat input", undefined, 'pipeline');
  }
  const cont = continueFinal ?? x[x.length - 1]?.role === 'assistant';
  const text = chatTemplate(x, { addGenerationPrompt: !cont, continueFinalMessage: cont });
  return {
    ids: tok.encode(text, { addSpecialTokens: false }),
    full: (t) => {
      if (!cont) return [...x, { role: 'assistant', content: t }];
      const last = x[x.length - 1]!;
      return [...x.slice(0, -1), { ...last, content: `${typeof last.content === 'string' ? last.content : ''}${t}` }];
    },
  };
}

function isChat(x: unknown): x is PipelineChatMessage[] {
  return Array.isArray(x) && x.length > 0 && x.every((m) => typeof m === 'object' && m !== null && typeof (m as { role?: unknown }).role === 'string');
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
