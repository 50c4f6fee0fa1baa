/**
 * Continuous batching: many prompts through a fixed number of slots (rows of one KV cache). A
 * prompt enters a free slot by a prefill of its own (batch 1, so its logits and cached keys are
 * those of one-at-a-time generation); its cached columns are then copied into the slot's row.
 * Rows are right-aligned at the cache length L: row b attends to columns [pads[b], L), its
 * positions counting from pads[b], so a row is a left-padded one to the attention kernels. When
 * slots change (a prompt enters) or the cache is full, the rows are re-laid out so that L is the
 * longest context held. Each sequence stops on its own (eos, stop strings, its max new tokens).
 *
 * Greedy decoding runs on the fused decoder (src/decode) where generate() would use it; the host
 * then reads ids a few steps behind and a finished slot takes its next prompt a few steps later.
 */
// cache k/v: [S, cap, Hkv, Dh]; row b holds a sequence's context in columns [pads[b], L)
import { ConfigError, Rng, ValueError } from '@q/core';
import type { CausalLM } from '../modules/causal-lm';
import type { KVCache } from '../modules/kv-cache';
import { setCacheMask } from '../modules/batch';
import { FusedDecoder, fusedUnsupported, isSoftwareAdapter } from '../decode/fused-decoder';
import type { FinishReason, GenerateOptions } from './generate';
import { resolveGenerationConfig, type ResolvedGenerationConfig } from './generation-config';
import { processLogits } from './logits-processors';
import { inferAttentionMask } from './prompts';
import { argmax, sample } from './sampling';
import { completesStopString } from './stop-strings';

/** Each prompt's new tokens (up to and including the one that ended it) and why it stopped. */
export interface ContinuousOutput {
  newTokens: number[][];
  finishReasons: FinishReason[];
}

/** One prompt's state. */
interface Seq {
  index: number;
  ids: number[];
  /** Its own budget: maxNewTokens, or maxLength minus its prompt. */
  n: number;
  newTokens: number[];
  seen: Set<number>;
  reason: FinishReason | null;
}

/** Fused decoding's pipelined readback keeps up to this many steps in flight (FusedDecoder's default). */
const DEPTH = 4;

/**
 * Generates for every prompt with `slots` rows decoding at once (greedy or sampling, one sequence
 * per prompt, no beams). Greedy ids equal those of {@link generate} run on each prompt alone.
 *
 * @example
 * ```ts
 * const { newTokens } = await generateContinuous(model, prompts.map((p) => tok.encode(p)), 8, { maxNewTokens: 64, doSample: false });
 * ```
 */
export async function generateContinuous(model: CausalLM, prompts: number[][], slots: number, opts: GenerateOptions = {}): Promise<ContinuousOutput> {
  const { attentionMask, tokenizer, streamer, decoder: _d, decodeWeightDtype, decodeSubgroups, onDecoder, ...config } = opts;
  const c = resolveGenerationConfig({ ...definedOnly(model.generationConfig ?? {}), ...definedOnly(config) }, 'generate');
  if (!Number.isInteger(slots) || slots < 1) throw new ConfigError('batchSize', 'an integer >= 1', slots, 'generateContinuous');
  if (c.numBeams > 1 || c.numReturnSequences > 1) throw new ConfigError('numBeams', '1 with one sequence per prompt (continuous batching)', c.numBeams, 'generateContinuous');
  if (streamer) throw new ConfigError('streamer', 'unset (continuous batching does not stream)', 'a function', 'generateContinuous');
  if (c.stopStrings.length > 0 && !tokenizer) throw new ConfigError('stopStrings', 'a `tokenizer` option too, to decode the tokens with', c.stopStrings, 'generate');
  const V = model.vocabSize;
  for (const id of [...c.eosTokenIds, ...(c.padTokenId === null ? [] : [c.padTokenId])]) {
    if (id >= V) throw new ValueError(`generate: token id ${id} (eos/pad) is outside the model's vocabulary [0, ${V})`);
  }
  // As generate(): a prompt's masked tokens (given, or the pad id, transformers' rule) are dropped.
  const mask = attentionMask ?? inferAttentionMask(prompts, c.padTokenId, c.eosTokenIds);
  const seqs: Seq[] = prompts.map((all, index) => {
    const ids = Array.from(all).filter((_, t) => !mask || mask[index]![t] !== 0);
    if (ids.length === 0) throw new ValueError(`generateContinuous: prompt ${index} has no tokens`);
    const n = c.maxNewTokens ?? c.maxLength - ids.length;
    if (n < 1) throw new ConfigError('maxLength', `more than prompt ${index}'s ${ids.length} tokens (or set maxNewTokens)`, c.maxLength, 'generate');
    if (ids.length + n > model.rotary.maxPositions) {
      throw new ConfigError('maxNewTokens', `at most ${model.rotary.maxPositions - ids.length} (the model takes ${model.rotary.maxPositions} positions, prompt ${index} uses ${ids.length})`, n, 'generate');
    }
    return { index, ids, n, newTokens: [], seen: new Set(ids), reason: null };
  });
  const S = Math.min(slots, seqs.length);
  const mode = opts.decoder ?? 'auto';
  // The fused decoder's min-new-tokens rule and sampling draws count from one prompt length for
  // all rows, which slots entering at different times do not share: those stay on the host.
  const fusable = !c.doSample && c.minNewTokens === 0 && fusedUnsupported(model, S, { weightDtype: decodeWeightDtype, eosTokenIds: c.eosTokenIds }) === null;
  const fused = fusable && (mode === 'fused' || (mode === 'auto' && !isSoftwareAdapter(model.dev)));
  if (mode === 'fused' && !fused) {
    throw new ConfigError('decoder', `'auto' or 'eager' here (${fusedUnsupported(model, S, { weightDtype: decodeWeightDtype, eosTokenIds: c.eosTokenIds }) ?? 'continuous batching fuses greedy decoding without minNewTokens only'})`, 'fused', 'generate');
  }
  const maxP = Math.max(...seqs.map((s) => s.ids.length));
  const maxN = Math.max(...seqs.map((s) => s.n));
  // A row holds at most its prompt and n - 1 fed tokens, plus the steps in flight past its end.
  const cache = model.newCache(S, maxP + maxN + (fused ? DEPTH + 1 : 1));
  const rng = new Rng(c.seed ?? Math.floor(Math.random() * 2 ** 32));
  const slot: (Seq | null)[] = new Array(S).fill(null);
  const pads: number[] = new Array(S).fill(0);
  let next = 0;

  /** Appends a chosen token and applies the stopping rules; true when the sequence is done. */
  const record = (s: Seq, id: number): boolean => {
    s.newTokens.push(id);
    s.seen.add(id);
    if (c.eosTokenIds.includes(id)) s.reason = 'eos';
    else if (c.stopStrings.length > 0 && completesStopString(tokenizer!, [...s.ids, ...s.newTokens], c.stopStrings)) s.reason = 'stop_string';
    else if (s.newTokens.length >= s.n) s.reason = 'length';
    return s.reason !== null;
  };
  const choose = (logits: Float32Array, s: Seq) => {
    const row = processLogits(logits, s.seen, c, s.newTokens.length);
    return c.doSample ? sample(row, rng) : argmax(row);
  };

  /**
   * Fills free slots with the next prompts (each prefilled alone; a prompt done after its first
   * token frees its slot again) and re-lays out the rows; returns the slots filled.
   */
  const admit = async (force: boolean): Promise<number[]> => {
    const entered: { b: number; tmp: KVCache }[] = [];
    try {
      for (let b = 0; b < S; b++) {
        while (slot[b] === null && next < seqs.length) {
          const s = seqs[next++]!;
          const tmp = model.newCache(1, s.ids.length);
          let done: boolean;
          try {
            done = record(s, choose(await lastLogits(model, [s.ids], tmp), s));
          } catch (e) {
            tmp.release();
            throw e;
          }
          if (done) tmp.release();
          else {
            slot[b] = s;
            entered.push({ b, tmp });
          }
        }
      }
      if (entered.length === 0 && !force) return [];
      // Contexts held: a staying row's columns [pads[b], L); an entering row's prompt; idle rows
      // keep one column so that no row attends to nothing.
      const L = cache.length;
      const ctx = slot.map((s, b) => (entered.some((e) => e.b === b) ? s!.ids.length : s ? L - pads[b]! : 1));
      const L2 = Math.max(...ctx);
      const moves = slot.flatMap((s, b) => (s && !entered.some((e) => e.b === b) ? [{ row: b, from: pads[b]!, to: L2 - ctx[b]!, len: ctx[b]! }] : []));
      cache.relayout(moves, L2);
      slot.forEach((_, b) => (pads[b] = L2 - ctx[b]!));
      for (const { b, tmp } of entered) cache.writeRow(b, pads[b]!, tmp);
      setCacheMask(cache, pads.map((p) => Array.from({ length: L2 }, (_, j) => (j >= p ? 1 : 0))));
      return entered.map((e) => e.b);
    } finally {
      for (const e of entered) e.tmp.release();
    }
  };
  const active = () => slot.some((s) => s !== null);

  let decoder: FusedDecoder | undefined;
  try {
    await admit(true);
    if (!fused) {
      while (active() || next < seqs.length) {
        if (cache.length + 1 > cache.capacity) await admit(true);
        // Idle rows are fed the pad id (or 0); their logits are not looked at.
        const tokens = slot.map((s) => [s ? s.newTokens[s.newTokens.length - 1]! : (c.padTokenId ?? 0)]);
        const logits = await lastLogits(model, tokens, cache);
        slot.forEach((s, b) => {
          if (s && record(s, choose(logits.subarray(b * V, (b + 1) * V), s))) slot[b] = null;
        });
        if (slot.some((s) => s === null) && next < seqs.length) await admit(false);
      }
    } else {
      decoder = new FusedDecoder(model, cache, pads, 0, { weightDtype: decodeWeightDtype, subgroups: decodeSubgroups, repetitionPenalty: c.repetitionPenalty, eosTokenIds: c.eosTokenIds, depth: DEPTH, profile: onDecoder !== undefined });
      const d = decoder;
      const enter = (bs: number[]) => {
        d.setPads(pads);
        for (const b of bs) d.setRow(b, slot[b]!.newTokens[slot[b]!.newTokens.length - 1]!, slot[b]!.seen);
      };
      enter(slot.flatMap((s, b) => (s ? [b] : [])));
      // Each step in flight with the sequences its rows belonged to when it was submitted.
      const pending: { ids: Promise<Int32Array>; owners: (Seq | null)[] }[] = [];
      while (active() || next < seqs.length) {
        while (d.free > 0 && pending.length <= DEPTH && active()) {
          if (cache.length + 1 > cache.capacity) enter(await admit(true));
          pending.push({ ids: d.step(), owners: [...slot] });
        }
        const p = pending.shift();
        if (!p) break;
        const ids = await p.ids;
        p.owners.forEach((s, b) => {
          if (s && s.reason === null && record(s, ids[b]!) && slot[b] === s) slot[b] = null;
        });
        if (slot.some((s) => s === null) && next < seqs.length) enter(await admit(false));
      }
      await Promise.all(pending.map((p) => p.ids)); // steps past the end: let their readbacks finish
      await onDecoder?.(d);
    }
  } finally {
    decoder?.release();
    cache.release();
  }
  return { newTokens: seqs.map((s) => s.newTokens), finishReasons: seqs.map((s) => s.reason!) };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Runs the model for the last position of each row against `cache` and reads [B, 1, V] back. */
async function lastLogits(model: CausalLM, inputIds: number[][], cache: KVCache): Promise<Float32Array> {
  const t = model.logits({ inputIds, cache, lastOnly: true });
  try {
    return (await t.read()) as Float32Array;
  } finally {
    t.release();
  }
}
