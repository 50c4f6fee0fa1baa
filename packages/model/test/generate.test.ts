// generate() on tiny random models, against references that run the model without a cache: a
// step-by-step loop over full forwards, one row at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, Rng, type QDevice } from '@q/core';
import { AutoModelForCausalLM, randomWeights, type CausalLM } from '../src';
import { argmax, generate, generateStream, generateWithDetails, processLogits, resolveGenerationConfig, sample, type GenerationConfig, type StreamEvent } from '../src/generate';
import { tinyLlama, tinyQwen2 } from './tiny-configs';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

/**
 * The reference: each step runs the whole sequence without a cache, takes the last position's
 * logits, applies the same processors and picks the token (greedy, or one draw per step from
 * Rng(seed) with sampling).
 */
async function reference(model: CausalLM, prompt: number[], n: number, config: GenerationConfig = {}): Promise<number[]> {
  const c = resolveGenerationConfig(config);
  const rng = new Rng(c.seed ?? 0);
  const seq = [...prompt];
  const V = model.vocabSize;
  for (let i = 0; i < n; i++) {
    const t = model.logits({ inputIds: [seq] });
    const all = (await t.read()) as Float32Array;
    t.release();
    const row = processLogits(all.slice((seq.length - 1) * V), seq, c);
    const id = c.doSample ? sample(row, rng) : argmax(row);
    seq.push(id);
    if (c.eosTokenIds.includes(id)) break;
  }
  return seq.slice(prompt.length);
}

const letters = { decode: (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('') };

describe.each([
  ['qwen2', tinyQwen2()],
  ['llama', tinyLlama()],
])('%s generate', (_name, cfg) => {
  let model: CausalLM;
  const prompts = [
    [5, 17, 3, 44, 9],
    [1, 2, 3],
    [8, 30, 2, 7, 11, 5, 19],
  ];
  const refs: number[][] = [];
  beforeAll(async () => {
    // Larger weights than the forward test so the tiny model's greedy choices are far from ties.
    model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 11, 0.5) });
    for (const p of prompts) refs.push(await reference(model, p, 10));
  });
  afterAll(() => model.release());

  it('greedy decoding with the KV cache equals argmax over full forwards, and frees every buffer', async () => {
    const before = dev.memory().liveBuffers;
    const [seq] = await generate(model, [prompts[0]!], { maxNewTokens: 10 });
    expect(dev.memory().liveBuffers).toBe(before);
    expect(seq).toEqual([...prompts[0]!, ...refs[0]!]);
    const noCache = await generate(model, [prompts[0]!], { maxNewTokens: 10, useCache: false });
    expect(noCache[0]).toEqual(seq);
  });

  it('a left-padded batch gives each row its unbatched tokens, whatever side the input was padded on', async () => {
    const before = dev.memory().liveBuffers;
    const out = await generateWithDetails(model, prompts, { maxNewTokens: 10, padTokenId: 0 });
    expect(dev.memory().liveBuffers).toBe(before);
    expect(out.promptLength).toBe(7);
    expect(out.newTokens).toEqual(refs);
    expect(out.sequences[1]).toEqual([0, 0, 0, 0, ...prompts[1]!, ...refs[1]!]);
    // Right-padded, as a tokenizer with padding_side 'right' returns them.
    const right = prompts.map((p) => [...p, ...new Array<number>(7 - p.length).fill(0)]);
    const mask = prompts.map((p) => [...p.map(() => 1), ...new Array<number>(7 - p.length).fill(0)]);
    expect(await generate(model, right, { maxNewTokens: 10, padTokenId: 0, attentionMask: mask })).toEqual(out.sequences);
  });

  it('eos ends a row, which is then padded while the others go on', async () => {
    // eos := the token row 0 first produces at step 3, so row 0 stops there.
    const k = refs[0]!.findIndex((id, i) => i >= 3 && refs[0]!.indexOf(id) === i);
    const eos = refs[0]![k]!;
    const pad = 1;
    const out = await generateWithDetails(model, [prompts[0]!, prompts[2]!], { maxNewTokens: 10, eosTokenId: [eos], padTokenId: pad });
    expect(out.newTokens[0]).toEqual(refs[0]!.slice(0, k + 1));
    expect(out.finishReasons[0]).toBe('eos');
    const r2 = await reference(model, prompts[2]!, 10, { eosTokenId: eos });
    expect(out.newTokens[1]).toEqual(r2);
    const n = Math.max(k + 1, r2.length);
    const pads = (m: number) => new Array<number>(m).fill(pad);
    expect(out.sequences[0]).toEqual([...pads(2), ...prompts[0]!, ...refs[0]!.slice(0, k + 1), ...pads(n - k - 1)]);
    expect(out.sequences[1]!.length).toBe(7 + n);
  });

  it('repetitionPenalty matches the reference, which penalizes prompt and generated tokens', async () => {
    const opts = { maxNewTokens: 8, repetitionPenalty: 1.8 };
    const [seq] = await generate(model, [prompts[2]!], opts);
    const ref = await reference(model, prompts[2]!, 8, opts);
    expect(seq!.slice(7)).toEqual(ref);
    expect(ref).not.toEqual(refs[2]!.slice(0, 8)); // the penalty changed something
  });

  it('seeded sampling is reproducible and equals the reference draw by draw', async () => {
    const opts = { maxNewTokens: 8, doSample: true, temperature: 0.9, topK: 20, topP: 0.9, seed: 1234 };
    const a = await generate(model, [prompts[1]!], opts);
    const b = await generate(model, [prompts[1]!], opts);
    expect(a).toEqual(b);
    expect(a[0]!.slice(3)).toEqual(await reference(model, prompts[1]!, 8, opts));
    const c = await generate(model, [prompts[1]!], { ...opts, seed: 99 });
    expect(c).not.toEqual(a);
  });

  it('stop strings end a row at the token that completes them; the streamer sees ids and text', async () => {
    // Tokens decode to one letter each; stop at the text of reference tokens 4..5.
    const stop = letters.decode(refs[0]!.slice(4, 6));
    let k = 0; // at most 5, by construction
    while (!letters.decode([...prompts[0]!, ...refs[0]!.slice(0, k + 1)]).endsWith(stop)) k++;
    const events: StreamEvent[] = [];
    const out = await generateWithDetails(model, [prompts[0]!, prompts[1]!], {
      maxNewTokens: 10, stopStrings: stop, padTokenId: 0, tokenizer: letters, streamer: (e) => void events.push(e),
    });
    expect(out.newTokens[0]).toEqual(refs[0]!.slice(0, k + 1));
    expect(out.finishReasons[0]).toBe('stop_string');
    const streamed = [0, 1].map((b) => events.filter((e) => !e.finished[b] || e.step < out.newTokens[b]!.length).map((e) => e.tokenIds[b]!));
    expect(streamed).toEqual(out.newTokens);
    expect(events.map((e) => e.text![0]).join('')).toBe(letters.decode(out.newTokens[0]!));
    expect(events.map((e) => e.text![1]).join('')).toBe(letters.decode(out.newTokens[1]!));
    await expect(generate(model, [prompts[0]!], { stopStrings: 'x' })).rejects.toThrow(/tokenizer/);
  });

  it('checks its options', async () => {
    await expect(generate(model, [prompts[0]!], { maxNewTokens: 0 })).rejects.toThrow(/"maxNewTokens"/);
    await expect(generate(model, [prompts[0]!], { maxNewTokens: 500 })).rejects.toThrow(/"maxNewTokens": expected at most/);
    await expect(generate(model, [[1, 2], [3]], { maxNewTokens: 2 })).rejects.toThrow(/padTokenId/);
    // maxLength (default 20) counts the prompt.
    expect((await generate(model, [prompts[2]!]))[0]!.length).toBe(20);
  });
});

describe('generateStream', () => {
  it('yields text pieces that join to the decoded new tokens, and stops early on break', async () => {
    const cfg = tinyQwen2();
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 11, 0.5) });
    try {
      const prompt = [5, 17, 3, 44, 9];
      const [seq] = await generate(model, [prompt], { maxNewTokens: 8 });
      const pieces: string[] = [];
      for await (const p of generateStream(model, prompt, { maxNewTokens: 8, tokenizer: letters })) pieces.push(p);
      expect(pieces.length).toBe(8);
      expect(pieces.join('')).toBe(letters.decode(seq!.slice(prompt.length)));
      const before = dev.memory().liveBuffers;
      let n = 0;
      for await (const _ of generateStream(model, prompt, { maxNewTokens: 50, tokenizer: letters })) if (++n === 3) break;
      expect(n).toBe(3);
      expect(dev.memory().liveBuffers).toBe(before);
    } finally {
      model.release();
    }
  });
});
