/**
 * Autoregressive decoding as transformers' `model.generate` (greedy or sampling, one sequence per
 * prompt): prefill the left-padded prompts into a KV cache, then one token per step per row, with
 * logits read back to the host ([B, 1, V]) for the logits processors and the choice.
 */
import { ConfigError, Rng, ValueError } from '@q/core';
import type { CausalLM } from '../modules/causal-lm';
import type { KVCache } from '../modules/kv-cache';
import { resolveGenerationConfig, type GenerationConfig } from './generation-config';
import { processLogits } from './logits-processors';
import { inferAttentionMask, leftPad } from './prompts';
import { argmax, sample } from './sampling';
import { completesStopString, IncrementalDecoder, type TokenDecoder } from './stop-strings';

/** What a streamer receives after each step. */
export interface StreamEvent {
  /** 0 for the first new token. */
  step: number;
  /** The token each row got this step; padTokenId for rows that had already finished. */
  tokenIds: number[];
  /** New text of each row since the previous event (needs `tokenizer`); '' for finished rows. */
  text?: string[];
  /** Rows that are done after this step. */
  finished: boolean[];
}

/** Called after every step; a returned promise is awaited (back-pressure). */
export type Streamer = (event: StreamEvent) => void | Promise<void>;

/** Options of {@link generate}: a {@link GenerationConfig} plus the batch and I/O hooks. */
export interface GenerateOptions extends GenerationConfig {
  /** 1 = real token, 0 = padding, either side: prompts are re-padded on the left. Default: inferred from padTokenId as transformers does, else all ones. */
  attentionMask?: ArrayLike<number>[];
  /** Decodes ids, for `stopStrings` and the streamer's text. Default: none. */
  tokenizer?: TokenDecoder;
  /** Receives token ids (and text) as they come. Default: none. */
  streamer?: Streamer;
}

export type FinishReason = 'eos' | 'stop_string' | 'length';

/** Everything {@link generateWithDetails} knows at the end. */
export interface GenerateOutput {
  /** [B, P + n]: the left-padded prompts, then the new tokens; padTokenId after a row finished. */
  sequences: number[][];
  /** P: prompt columns at the start of every sequence. */
  promptLength: number;
  /** Each row's new tokens, up to and including the one that finished it. */
  newTokens: number[][];
  finishReasons: FinishReason[];
}

/**
 * Generates continuations of `inputIds` (rows may differ in length, or come padded on either side
 * with `attentionMask`) and returns prompt + new tokens per row, left-padded as transformers
 * returns them. Every GPU buffer it makes (the KV cache included) is released before it returns.
 *
 * @example
 * ```ts
 * const ids = tok.encode('The capital of France is');
 * const [seq] = await generate(model, [ids], { maxNewTokens: 8, eosTokenId: tok.eosTokenId });
 * tok.decode(seq.slice(ids.length));
 * ```
 */
export async function generate(model: CausalLM, inputIds: ArrayLike<number>[], opts: GenerateOptions = {}): Promise<number[][]> {
  return (await generateWithDetails(model, inputIds, opts)).sequences;
}

/** {@link generate}, returning the prompt length, the new tokens and why each row stopped. */
export async function generateWithDetails(model: CausalLM, inputIds: ArrayLike<number>[], opts: GenerateOptions = {}): Promise<GenerateOutput> {
  const { attentionMask, tokenizer, streamer, ...config } = opts;
  const c = resolveGenerationConfig(config, 'generate');
  if (c.stopStrings.length > 0 && !tokenizer) {
    throw new ConfigError('stopStrings', 'a `tokenizer` option too, to decode the tokens with', c.stopStrings, 'generate');
  }
  const mask = attentionMask ?? inferAttentionMask(inputIds, c.padTokenId, c.eosTokenIds);
  const prompt = leftPad(inputIds, mask, c.padTokenId);
  const B = prompt.rows.length;
  const P = prompt.length;
  if (c.padTokenId === null && B > 1 && c.stopStrings.length > 0) {
    throw new ConfigError('padTokenId', 'a token id to fill rows that stopped at a stop string while others go on', null, 'generate');
  }
  const n = c.maxNewTokens ?? c.maxLength - P;
  if (n < 1) throw new ConfigError('maxLength', `more than the prompt's ${P} tokens (or set maxNewTokens)`, c.maxLength, 'generate');
  if (P + n > model.rotary.maxPositions) {
    throw new ConfigError('maxNewTokens', `at most ${model.rotary.maxPositions - P} (the model takes ${model.rotary.maxPositions} positions, the prompt uses ${P})`, n, 'generate');
  }
  const V = model.vocabSize;
  for (const id of [...c.eosTokenIds, ...(c.padTokenId === null ? [] : [c.padTokenId])]) {
    if (id >= V) throw new ValueError(`generate: token id ${id} (eos/pad) is outside the model's vocabulary [0, ${V})`);
  }

  const rng = new Rng(c.seed ?? Math.floor(Math.random() * 2 ** 32));
  const seen = prompt.rows.map((r) => new Set(r));
  const newTokens: number[][] = prompt.rows.map(() => []);
  const finishReasons: (FinishReason | null)[] = prompt.rows.map(() => null);
  const decoders = tokenizer && streamer ? prompt.rows.map(() => new IncrementalDecoder(tokenizer)) : undefined;
  const sequences = prompt.inputIds.map((r) => [...r]);
  const fullMask = prompt.attentionMask?.map((r) => [...r]);
  const useCache = c.useCache ?? model.useCache;
  const cache = useCache ? model.newCache(B, P + n) : undefined;
  try {
    let logits = await lastLogits(model, { inputIds: prompt.inputIds, attentionMask: prompt.attentionMask, cache });
    for (let step = 0; step < n; step++) {
      const tokenIds = sequences.map((seq, b) => {
        if (finishReasons[b] !== null) return c.padTokenId!;
        const row = processLogits(logits.subarray(b * V, (b + 1) * V), seen[b]!, c);
        return c.doSample ? sample(row, rng) : argmax(row);
      });
      const text: string[] = [];
      tokenIds.forEach((id, b) => {
        sequences[b]!.push(id);
        fullMask?.[b]!.push(1);
        if (finishReasons[b] !== null) return void text.push('');
        newTokens[b]!.push(id);
        seen[b]!.add(id);
        if (c.eosTokenIds.includes(id)) finishReasons[b] = 'eos';
        else if (c.stopStrings.length > 0 && completesStopString(tokenizer!, [...prompt.rows[b]!, ...newTokens[b]!], c.stopStrings)) finishReasons[b] = 'stop_string';
        else if (step === n - 1) finishReasons[b] = 'length';
        if (decoders) text.push(finishReasons[b] === null ? decoders[b]!.push([id]) : decoders[b]!.push([id]) + decoders[b]!.flush());
      });
      const finished = finishReasons.map((r) => r !== null);
      await streamer?.({ step, tokenIds, ...(decoders ? { text } : {}), finished });
      if (finished.every(Boolean)) break;
      logits = cache
        ? await lastLogits(model, { inputIds: tokenIds.map((id) => [id]), cache })
        : await lastLogits(model, { inputIds: sequences, attentionMask: fullMask });
    }
  } finally {
    cache?.release();
  }
  return { sequences, promptLength: P, newTokens, finishReasons: finishReasons as FinishReason[] };
}

/** Runs the model for the last position only and reads [B, 1, V] back; the logits tensor is released. */
async function lastLogits(
  model: CausalLM,
  o: { inputIds: number[][]; attentionMask?: number[][]; cache?: KVCache },
): Promise<Float32Array> {
  const t = model.logits({ ...o, lastOnly: true });
  try {
    return (await t.read()) as Float32Array;
  } finally {
    t.release();
  }
}
