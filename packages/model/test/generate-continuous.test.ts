// Continuous batching (src/generate/continuous.ts): more prompts than slots, of different lengths,
// each stopping on its own (eos, its max new tokens, a stop string), give every prompt the tokens
// and finish reason of generate() run on it alone; on the eager path and on the fused decoder; and
// through pipeline(). Every buffer is freed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16, getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, randomWeights, type CausalLM, type GenerateOptions } from '../src';
import { generateContinuous, generateWithDetails, pipeline, type PipelineTokenizer } from '../src/generate';
import { tinyQwen2 } from './tiny-configs';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

// Lengths 2..13, in no order, so entering prompts are sometimes longer than the rows they join.
const prompts = [
  [5, 17, 3, 44, 9],
  [1, 2],
  [8, 30, 2, 7, 11, 5, 19, 60, 61, 3, 4, 70, 12],
  [40, 41],
  [9, 9, 9, 9, 9, 9, 9, 9],
  [22, 33, 44],
  [50, 3, 50, 3, 50, 3, 50, 3, 50, 3],
  // The pad id inside a prompt: masked there, as generate() infers (transformers' rule).
  [0, 25, 26, 0, 27, 28],
];
const letters = { decode: (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('') };

describe('continuous batching', () => {
  let model: CausalLM;
  beforeAll(async () => {
    const cfg = tinyQwen2();
    // f16-representable weights, so the fused decoder reads exactly what the eager path reads.
    const weights = randomWeights(cfg, 11, 0.5);
    for (const e of Object.values(weights)) e.data = f16ToF32(f32ToF16(e.data as Float32Array));
    model = await AutoModelForCausalLM.fromConfig(cfg, { weights, dev });
  });
  afterAll(() => model.release());

  const alone = async (o: GenerateOptions) => {
    const out = { newTokens: [] as number[][], finishReasons: [] as string[] };
    for (const p of prompts) {
      const r = await generateWithDetails(model, [p], { ...o, decoder: 'eager' });
      out.newTokens.push(r.newTokens[0]!);
      out.finishReasons.push(r.finishReasons[0]!);
    }
    return out;
  };

  /** Stop conditions that end the prompts at different steps: eos, a stop string, the length. */
  const stops = async (): Promise<GenerateOptions> => {
    const free = await alone({ maxNewTokens: 9, padTokenId: 0 });
    return {
      maxNewTokens: 9,
      padTokenId: 0,
      // eos: prompt 0's 3rd token; a stop string: prompt 2's 5th and 6th tokens.
      eosTokenId: free.newTokens[0]![2]!,
      stopStrings: [letters.decode(free.newTokens[2]!.slice(4, 6))],
      tokenizer: letters,
    };
  };

  it('equals generate() on each prompt alone, with 3 slots for 7 prompts (eager)', { timeout: 300_000 }, async () => {
    const o = await stops();
    const want = await alone(o);
    expect(new Set(want.finishReasons)).toEqual(new Set(['eos', 'stop_string', 'length']));
    const before = dev.memory().liveBuffers;
    const got = await generateContinuous(model, prompts, 3, { ...o, decoder: 'eager' });
    expect(dev.memory().liveBuffers).toBe(before);
    expect(got).toEqual(want);
    // Per-prompt budgets (maxLength - prompt length) and a repetition penalty.
    const o2 = { maxLength: 16, padTokenId: 0, repetitionPenalty: 1.3, minNewTokens: 2, eosTokenId: o.eosTokenId };
    expect(await generateContinuous(model, prompts, 2, { ...o2, decoder: 'eager' })).toEqual(await alone(o2));
  });

  it('equals generate() on each prompt alone on the fused decoder (ids read behind, slots refilled)', { timeout: 600_000 }, async () => {
    const o = { ...(await stops()), repetitionPenalty: 1.2 };
    const want = await alone(o);
    const before = dev.memory().liveBuffers;
    const got = await generateContinuous(model, prompts, 3, { ...o, decoder: 'fused' });
    expect(dev.memory().liveBuffers).toBe(before);
    expect(got).toEqual(want);
  });

  it('pipeline() batches a list continuously with batchSize, as one by one', { timeout: 300_000 }, async () => {
    const chars: PipelineTokenizer = {
      eosTokenId: 1,
      padTokenId: 0,
      encode: (text) => Array.from(text, (ch) => ch.charCodeAt(0) - 30),
      decode: (ids, o) => ids.map((id) => (id < 2 ? (o?.skipSpecialTokens ? '' : ['<pad>', '<eos>'][id]) : String.fromCharCode(id + 30))).join(''),
    };
    const generator = pipeline('text-generation', { model, tokenizer: chars });
    const texts = ['Hi', 'The weather in Paris is', 'abc', 'Once upon a time', 'x'];
    const greedy = { maxNewTokens: 5, doSample: false, decoder: 'eager' as const };
    const one = await generator(texts, greedy);
    expect(await generator(texts, { ...greedy, batchSize: 2 })).toEqual(one);
    await expect(generateContinuous(model, prompts, 2, { numBeams: 2 })).rejects.toThrow(/"numBeams"/);
  });
});
