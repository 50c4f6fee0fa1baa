/**
 * Host-side logits processors for one row of next-token logits ([V], float32), each a pure
 * function with transformers' rule, applied in transformers' order: repetition penalty, then (when
 * sampling) temperature → top-k → top-p. Removed tokens get −Infinity.
 */
import type { ResolvedGenerationConfig } from './generation-config';

/**
 * transformers' RepetitionPenaltyLogitsProcessor: for each distinct token already in the sequence,
 * a positive logit is divided by `penalty` and a negative one multiplied.
 *
 * @example
 * ```ts
 * repetitionPenalty(Float32Array.of(2, -1, 3), [0, 1], 2) // [1, -2, 3]
 * ```
 */
export function repetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): Float32Array {
  if (penalty === 1) return logits;
  for (const id of new Set(seen)) {
    const s = logits[id]!;
    logits[id] = s < 0 ? s * penalty : s / penalty;
  }
  return logits;
}

/**
 * transformers' MinNewTokensLengthLogitsProcessor: before `min` new tokens exist, every eos id
 * gets −Infinity, so no row can end yet.
 */
export function minNewTokens(logits: Float32Array, generated: number, min: number, eos: readonly number[]): Float32Array {
  if (generated < min) for (const id of eos) logits[id] = -Infinity;
  return logits;
}

/** transformers' TemperatureLogitsWarper: logits / t. */
export function temperature(logits: Float32Array, t: number): Float32Array {
  if (t === 1) return logits;
  for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! / t;
  return logits;
}

/**
 * transformers' TopKLogitsWarper: keeps every token whose logit is ≥ the k-th largest (ties at the
 * boundary are kept, as `scores < topk(scores, k)[-1]` removes only smaller ones); k = 0 is off.
 */
export function topK(logits: Float32Array, k: number): Float32Array {
  if (k <= 0 || k >= logits.length) return logits;
  const kth = Float32Array.from(logits).sort()[logits.length - k]!; // ascending; NaN-free logits assumed
  for (let i = 0; i < logits.length; i++) if (logits[i]! < kth) logits[i] = -Infinity;
  return logits;
}

/**
 * transformers' TopPLogitsWarper: sorts ascending, removes tokens while the cumulative probability
 * is ≤ 1 − p, and always keeps the most likely token.
 */
export function topP(logits: Float32Array, p: number): Float32Array {
  if (p >= 1) return logits;
  const probs = softmax(logits);
  // Ascending by logit; equal logits in index order (a stable, documented tie rule).
  const order = Array.from(logits.keys()).filter((i) => probs[i]! > 0);
  order.sort((a, b) => logits[a]! - logits[b]! || a - b);
  let cum = 0;
  for (let j = 0; j < order.length - 1; j++) {
    cum += probs[order[j]!]!;
    if (cum > 1 - p) break;
    logits[order[j]!] = -Infinity;
  }
  return logits;
}

/** Softmax in float64 (entries of −Infinity get 0). */
export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/**
 * The whole chain for one row, in place: repetition penalty, min new tokens (`generated` is the
 * count of new tokens so far), then the sampling warpers when
 * `doSample` (greedy decoding ignores temperature, topK and topP, as transformers does).
 *
 * @example
 * ```ts
 * processLogits(row, seenIds, resolveGenerationConfig({ doSample: true, topK: 20, topP: 0.8 }));
 * ```
 */
export function processLogits(
  logits: Float32Array,
  seen: Iterable<number>,
  c: Pick<ResolvedGenerationConfig, 'repetitionPenalty' | 'doSample' | 'temperature' | 'topK' | 'topP'> &
    Partial<Pick<ResolvedGenerationConfig, 'minNewTokens' | 'eosTokenIds'>>,
  generated = Infinity,
): Float32Array {
  repetitionPenalty(logits, seen, c.repetitionPenalty);
  minNewTokens(logits, generated, c.minNewTokens ?? 0, c.eosTokenIds ?? []);
  if (!c.doSample) return logits;
  return topP(topK(temperature(logits, c.temperature), c.topK), c.topP);
}
