/**
 * Autoregressive decoding as transformers' `model.generate` (greedy or sampling, one sequence per
 * prompt): prefill the left-padded prompts into a KV cache, then one token per step per row, with
 * logits read back to the host ([B, 1, V]) for the logits processors and the choice.
 */
import { ConfigError, Rng, ValueError } from '@q/core';
import type { CausalLM } from '../modules/causal-lm';
import type { KVCache } from '../modules/kv-cache';
import { FusedDecoder, fusedUnsupported, isSoftwareAdapter } from '../decode/fused-decoder';
import { SAMPLE_CAP as FUSED_SAMPLE_CAP } from '../decode/fused-kernels';
import { beamSearch } from './beam-search';
import { resolveGenerationConfig, type GenerationConfig, type ResolvedGenerationConfig } from './generation-config';
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
  /**
   * 'fused': greedy decoding on the GPU with the fused per-layer kernels (src/decode), an error
   * when the model or options cannot take it; 'eager': the op-by-op forward with host-side choice;
   * 'auto' (default): fused when possible (greedy, or sampling with top-k on; KV cache; dense or NF4
   * projections, LoRA on q/k/v; batch ≤ 64) on a hardware adapter.
   */
  decoder?: 'auto' | 'fused' | 'eager';
  /** Weight storage of the fused decoder's GEMVs ('f16' halves the bytes read per token). Default 'f32'. */
  decodeWeightDtype?: 'f32' | 'f16';
  /** The fused decoder's GEMV reductions with subgroup operations. Default: when the device has 'subgroups'; false forces the workgroup-memory fallback. */
  decodeSubgroups?: boolean;
  /** Called with the fused decoder after the last step, before it is released (benchmarks read its timings). */
  onDecoder?: (d: FusedDecoder) => void | Promise<void>;
}

export type FinishReason = 'eos' | 'stop_string' | 'length';

/** Everything {@link generateWithDetails} knows at the end. */
export interface GenerateOutput {
  /** [B, P + n]: the left-padded prompts, then the new tokens; after a row finished, padTokenId (or, with no eos id set, the tokens it went on to produce, as transformers returns them). */
  sequences: number[][];
  /** P: prompt columns at the start of every sequence. */
  promptLength: number;
  /** Each row's new tokens, up to and including the one that finished it. */
  newTokens: number[][];
  finishReasons: FinishReason[];
  /** Beam search only: each returned hypothesis' length-penalised score (transformers' sequences_scores). */
  scores?: number[];
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
  const { attentionMask, tokenizer, streamer, decoder: _decoder, decodeWeightDtype: _wd, decodeSubgroups: _sg, onDecoder: _od, ...config } = opts;
  // generation_config.json's values (model.generationConfig) are the defaults, as in transformers.
  const c = resolveGenerationConfig({ ...definedOnly(model.generationConfig ?? {}), ...definedOnly(config) }, 'generate');
  if (c.stopStrings.length > 0 && !tokenizer) {
    throw new ConfigError('stopStrings', 'a `tokenizer` option too, to decode the tokens with', c.stopStrings, 'generate');
  }
  if (c.numBeams > 1 && c.doSample) throw new ConfigError('doSample', 'false with numBeams > 1 (beam sampling is not implemented)', c.doSample, 'generate');
  if (c.numReturnSequences > 1 && c.numBeams === 1 && !c.doSample) {
    throw new ConfigError('numReturnSequences', '1 for greedy decoding (or set doSample or numBeams)', c.numReturnSequences, 'generate');
  }
  if (c.numReturnSequences > c.numBeams && c.numBeams > 1) {
    throw new ConfigError('numReturnSequences', `at most numBeams (${c.numBeams})`, c.numReturnSequences, 'generate');
  }
  const mask = attentionMask ?? inferAttentionMask(inputIds, c.padTokenId, c.eosTokenIds);
  // numReturnSequences > 1 with sampling: each prompt is repeated (transformers' repeat_interleave).
  const reps = c.numBeams === 1 ? c.numReturnSequences : 1;
  const expand = <T>(rows: T[]) => rows.flatMap((r) => new Array<T>(reps).fill(r));
  const prompt = leftPad(expand([...inputIds]), mask && expand([...mask]), c.padTokenId);
  const B = prompt.rows.length;
  const P = prompt.length;
  const n = c.maxNewTokens ?? c.maxLength - P;
  if (n < 1) throw new ConfigError('maxLength', `more than the prompt's ${P} tokens (or set maxNewTokens)`, c.maxLength, 'generate');
  if (P + n > model.rotary.maxPositions) {
    throw new ConfigError('maxNewTokens', `at most ${model.rotary.maxPositions - P} (the model takes ${model.rotary.maxPositions} positions, the prompt uses ${P})`, n, 'generate');
  }
  const V = model.vocabSize;
  for (const id of [...c.eosTokenIds, ...(c.padTokenId === null ? [] : [c.padTokenId])]) {
    if (id >= V) throw new ValueError(`generate: token id ${id} (eos/pad) is outside the model's vocabulary [0, ${V})`);
  }
  if (c.numBeams > 1) return beams(model, prompt.inputIds, prompt.attentionMask, c, n, tokenizer);

  const rng = new Rng(c.seed ?? Math.floor(Math.random() * 2 ** 32));
  const newTokens: number[][] = prompt.rows.map(() => []);
  const finishReasons: (FinishReason | null)[] = prompt.rows.map(() => null);
  const decoders = tokenizer && streamer ? prompt.rows.map(() => new IncrementalDecoder(tokenizer)) : undefined;
  const sequences = prompt.inputIds.map((r) => [...r]);
  // transformers' repetition penalty sees the whole row, left padding included.
  const seen = sequences.map((r) => new Set(r));
  const fullMask = prompt.attentionMask?.map((r) => [...r]);
  const padFinished = c.eosTokenIds.length > 0;
  const useCache = c.useCache ?? model.useCache;
  const cache = useCache ? model.newCache(B, P + n) : undefined;

  /** The host's choice from one row of logits. */
  const choose = (logits: Float32Array, b: number, step: number) => {
    const row = processLogits(logits.subarray(b * V, (b + 1) * V), seen[b]!, c, step);
    return c.doSample ? sample(row, rng) : argmax(row);
  };
  /** Appends one step's tokens, applies the stopping rules and streams; true when every row is done. */
  const record = async (step: number, chosen: number[]): Promise<boolean> => {
    // As transformers: finished rows get the pad id only when an eos id is set (its
    // "has_eos_stopping_criteria"); otherwise a row stopped by a stop string keeps decoding into
    // `sequences` (its newTokens end at the stop) until every row is done.
    const tokenIds = chosen.map((id, b) => (finishReasons[b] !== null && padFinished ? c.padTokenId! : id));
    const text: string[] = [];
    tokenIds.forEach((id, b) => {
      sequences[b]!.push(id);
      fullMask?.[b]!.push(1);
      seen[b]!.add(id);
      if (finishReasons[b] !== null) return void text.push('');
      newTokens[b]!.push(id);
      if (c.eosTokenIds.includes(id)) finishReasons[b] = 'eos';
      else if (c.stopStrings.length > 0 && completesStopString(tokenizer!, [...prompt.rows[b]!, ...newTokens[b]!], c.stopStrings)) finishReasons[b] = 'stop_string';
      else if (step === n - 1) finishReasons[b] = 'length';
      if (decoders) text.push(finishReasons[b] === null ? decoders[b]!.push([id]) : decoders[b]!.push([id]) + decoders[b]!.flush());
    });
    const finished = finishReasons.map((r) => r !== null);
    await streamer?.({ step, tokenIds, ...(decoders ? { text } : {}), finished });
    return finished.every(Boolean);
  };

  const mode = opts.decoder ?? 'auto';
  // Sampling on the GPU needs top-k on (1..1024 candidates); without it the eager path samples.
  const gpuSampling = c.doSample && c.topK >= 1 && c.topK <= FUSED_SAMPLE_CAP;
  const fused =
    cache && (!c.doSample || gpuSampling) && n > 1 && (mode === 'fused' || (mode === 'auto' && !isSoftwareAdapter(model.dev))) &&
    fusedUnsupported(model, B, { weightDtype: opts.decodeWeightDtype, eosTokenIds: c.eosTokenIds }) === null;
  if (opts.decoder === 'fused' && !fused) {
    throw new ConfigError('decoder', `'auto' or 'eager' here (${fusedUnsupported(model, B, { weightDtype: opts.decodeWeightDtype, eosTokenIds: c.eosTokenIds }) ?? 'sampling and a disabled cache take the eager path'})`, 'fused', 'generate');
  }
  let decoder: FusedDecoder | undefined;
  try {
    let logits = await lastLogits(model, { inputIds: prompt.inputIds, attentionMask: prompt.attentionMask, cache });
    if (fused) {
      // The first token from the prefill's logits on the host, then the GPU chooses (greedy with
      // penalty and min-new-tokens) and feeds each token to the next step by itself; the host
      // reads ids a few steps behind and stops submitting once every row is done.
      let done = await record(0, prompt.rows.map((_, b) => choose(logits, b, 0)));
      if (!done) {
        decoder = new FusedDecoder(model, cache, prompt.rows.map((r) => P - r.length), P, {
          weightDtype: opts.decodeWeightDtype,
          subgroups: opts.decodeSubgroups,
          repetitionPenalty: c.repetitionPenalty,
          minNewTokens: c.minNewTokens,
          eosTokenIds: c.eosTokenIds,
          profile: opts.onDecoder !== undefined,
          // The eager path's draws, in its order (one per row per step), made ahead: the same
          // tokens as long as no row of the batch has finished (a finished row draws no more there).
          sampling: c.doSample
            ? { temperature: c.temperature, topK: c.topK, topP: c.topP, randoms: Float32Array.from({ length: n * B }, (_, i) => (i < B ? 0 : rng.next())) }
            : undefined,
        });
        decoder.start(sequences.map((r) => r[r.length - 1]!), seen);
        const pending: Promise<Int32Array>[] = [];
        let submitted = 1;
        for (let step = 1; step < n && !done; step++) {
          while (submitted < n && decoder.free > 0) {
            pending.push(decoder.step());
            submitted++;
          }
          done = await record(step, Array.from(await pending.shift()!));
        }
        await Promise.all(pending); // steps past the end: let their readbacks finish, then drop them
        await opts.onDecoder?.(decoder);
      }
    } else {
      for (let step = 0; step < n; step++) {
        if (await record(step, sequences.map((_, b) => (finishReasons[b] !== null && padFinished ? c.padTokenId! : choose(logits, b, step))))) break;
        logits = cache
          ? await lastLogits(model, { inputIds: sequences.map((r) => [r[r.length - 1]!]), cache })
          : await lastLogits(model, { inputIds: sequences, attentionMask: fullMask });
      }
    }
  } finally {
    decoder?.release();
    cache?.release();
  }
  return { sequences, promptLength: P, newTokens, finishReasons: finishReasons as FinishReason[] };
}

/** Beam search over the expanded batch (each prompt's row repeated numBeams times), with a KV cache. */
async function beams(
  model: CausalLM,
  inputIds: number[][],
  mask: number[][] | undefined,
  c: ResolvedGenerationConfig,
  n: number,
  tokenizer?: TokenDecoder,
): Promise<GenerateOutput> {
  const nb = c.numBeams;
  const rows = inputIds.flatMap((r) => new Array<number[]>(nb).fill(r));
  const rowMask = mask?.flatMap((r) => new Array<number[]>(nb).fill(r));
  const cache = model.newCache(rows.length, inputIds[0]!.length + n);
  try {
    const res = await beamSearch(
      {
        vocabSize: model.vocabSize,
        step: (tokens) =>
          tokens === null
            ? lastLogits(model, { inputIds: rows, attentionMask: rowMask, cache })
            : lastLogits(model, { inputIds: tokens.map((id) => [id]), cache }),
        reorder: (src) => cache.reorder(src),
      },
      inputIds,
      c,
      n,
      tokenizer,
    );
    const finishReasons = res.newTokens.map((t): FinishReason => {
      const last = t[t.length - 1]!;
      if (c.eosTokenIds.includes(last)) return 'eos';
      return t.length >= n ? 'length' : 'stop_string';
    });
    return { sequences: res.sequences, promptLength: inputIds[0]!.length, newTokens: res.newTokens, finishReasons, scores: res.scores };
  } finally {
    cache.release();
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
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
