/**
 * Beam search as transformers 5 runs it (`GenerationMixin._beam_search`, the vectorised rewrite):
 * per prompt, `numBeams` running beams and up to `numBeams` finished hypotheses. Each step:
 *   1. log_softmax of each beam's logits, then the logits processors (repetition penalty, min new
 *      tokens), plus the beam's running score;
 *   2. the top K = max(2, 1 + #eos) · numBeams continuations over all beams;
 *   3. continuations that hit a stopping criterion (eos, a stop string, the length limit) leave the
 *      running set; the best numBeams others run on;
 *   4. those of the first numBeams that finished compete for the finished set with the score
 *      sum(log p) / generated_length ** lengthPenalty;
 *   5. the search ends when no running beam can beat the worst finished one (earlyStopping false:
 *      judged at the current length; 'never': at the longest length when lengthPenalty > 0), when
 *      every prompt has numBeams finished hypotheses (earlyStopping true), or at the length limit.
 * Scores are float32 as in torch (each sum rounded with Math.fround); log_softmax runs in float64.
 */
// logits: [B·numBeams, V]; sequences out: [B·numReturnSequences, P + generated]
import type { ResolvedGenerationConfig } from './generation-config';
import { minNewTokens, repetitionPenalty } from './logits-processors';
import { completesStopString, type TokenDecoder } from './stop-strings';

const NEG = -1e9; // transformers' "very large negative" for masked beams

/** One hypothesis: the new tokens after the (padded) prompt and its score. */
interface Hyp {
  tokens: number[];
  score: number;
  finished: boolean;
}

/** The model side of the search: logits for the current tokens, and the cache reorder. */
export interface BeamModel {
  /** [R, V] logits of the last position for the next token of every row (R = B · numBeams). */
  step(tokens: number[] | null): Promise<Float32Array>;
  /** Row r takes the cached state of row src[r]. */
  reorder(src: number[]): void;
  vocabSize: number;
}

export interface BeamResult {
  /** [B · numReturnSequences][P + L]: padded prompt, then tokens, then the fill id. */
  sequences: number[][];
  /** Each returned hypothesis' new tokens (its own length). */
  newTokens: number[][];
  /** Each returned hypothesis' length-penalised score (transformers' sequences_scores). */
  scores: number[];
}

/** log_softmax of one row in float64, rounded to float32 at the end. */
function logSoftmax(row: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

/** Indices of the k largest values, largest first (equal values: lower index first). */
function topK(values: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (idx.length === k && !(v > values[idx[k - 1]!]!)) continue;
    let j = idx.length === k ? k - 1 : idx.length;
    while (j > 0 && v > values[idx[j - 1]!]!) j--;
    idx.splice(j, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx;
}

/**
 * Runs beam search for B prompts (already left-padded to P columns) and returns the best
 * `numReturnSequences` hypotheses of each prompt, best first.
 */
export async function beamSearch(
  m: BeamModel,
  prompts: number[][],
  c: ResolvedGenerationConfig,
  maxNew: number,
  tokenizer?: TokenDecoder,
): Promise<BeamResult> {
  const nb = c.numBeams;
  const B = prompts.length;
  const P = prompts[0]!.length;
  const V = m.vocabSize;
  const lp = c.lengthPenalty;
  const eos = c.eosTokenIds;
  const K = Math.max(2, 1 + eos.length) * nb;
  const fill = c.padTokenId || (eos[0] ?? 0); // transformers: `pad_token_id or eos_token_id[0]`

  let running: Hyp[][] = prompts.map(() => Array.from({ length: nb }, (_, j) => ({ tokens: [], score: j === 0 ? 0 : NEG, finished: false })));
  let done: Hyp[][] = prompts.map(() => Array.from({ length: nb }, () => ({ tokens: [], score: NEG, finished: false })));
  const improvable = prompts.map(() => true);

  let logits = await m.step(null);
  for (let step = 0; step < maxNew; step++) {
    const nextTokens: number[] = [];
    const src: number[] = [];
    let allHit = true;
    for (let b = 0; b < B; b++) {
      // 1. Accumulated log-probabilities over [numBeams · V].
      const acc = new Float32Array(nb * V);
      running[b]!.forEach((h, j) => {
        const row = logSoftmax(logits.subarray((b * nb + j) * V, (b * nb + j + 1) * V));
        repetitionPenalty(row, [...prompts[b]!, ...h.tokens], c.repetitionPenalty);
        minNewTokens(row, step, c.minNewTokens, eos);
        for (let v = 0; v < V; v++) acc[j * V + v] = Math.fround(row[v]! + h.score);
      });
      // 2. The top K continuations.
      const cand = topK(acc, K).map((i) => {
        const beam = Math.floor(i / V);
        const tokens = [...running[b]![beam]!.tokens, i % V];
        const hit =
          eos.includes(i % V) ||
          step + 1 >= maxNew ||
          (c.stopStrings.length > 0 && completesStopString(tokenizer!, [...prompts[b]!, ...tokens], c.stopStrings));
        return { beam, tokens, score: acc[i]!, hit };
      });
      allHit &&= cand.every((x) => x.hit);
      // 3. The best numBeams that did not stop run on.
      const runOrder = topK(cand.map((x) => Math.fround(x.score + (x.hit ? NEG : 0))), nb);
      const nextRunning = runOrder.map((k) => ({ tokens: cand[k]!.tokens, score: Math.fround(cand[k]!.score + (cand[k]!.hit ? NEG : 0)), finished: false }));
      // 4. Finished candidates among the first numBeams compete for the finished set.
      const full = done[b]!.every((h) => h.finished) && c.earlyStopping === true;
      const fresh = cand.map((x, k) => {
        const justFinished = x.hit && k < nb;
        let s = Math.fround(x.score / Math.fround((step + 1) ** lp));
        if (full) s = Math.fround(s + NEG);
        if (!improvable[b]) s = Math.fround(s + NEG);
        if (!justFinished) s = Math.fround(s + NEG);
        return { tokens: x.tokens, score: s, finished: justFinished };
      });
      const merged = [...done[b]!, ...fresh];
      done[b] = topK(merged.map((h) => h.score), nb).map((k) => merged[k]!);
      running[b] = nextRunning;
      runOrder.forEach((k) => src.push(b * nb + cand[k]!.beam));
      for (const h of nextRunning) nextTokens.push(h.tokens[h.tokens.length - 1]!);
      // 5. Can a running beam still beat the worst finished hypothesis?
      const bestLen = c.earlyStopping === 'never' && lp > 0 ? maxNew : step + 1;
      const best = Math.fround(nextRunning[0]!.score / Math.fround(bestLen ** lp));
      const minDone = Math.min(...done[b]!.map((h) => h.score));
      improvable[b] = improvable[b]! && done[b]!.some((h) => best > (h.finished ? minDone : NEG));
    }
    const openBeam = !(done.every((d) => d.every((h) => h.finished)) && c.earlyStopping === true);
    if (!improvable.some(Boolean) || !openBeam || allHit || step + 1 >= maxNew) break;
    m.reorder(src);
    logits = await m.step(nextTokens);
  }

  const best = done.flatMap((d) => d.slice(0, c.numReturnSequences));
  const L = Math.max(...best.map((h) => h.tokens.length));
  return {
    sequences: best.map((h, i) => [...prompts[Math.floor(i / c.numReturnSequences)]!, ...h.tokens, ...new Array<number>(L - h.tokens.length).fill(fill)]),
    newTokens: best.map((h) => h.tokens),
    scores: best.map((h) => h.score),
  };
}
