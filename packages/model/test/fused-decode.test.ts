// The fused decode path (src/decode) against the eager one, which golden tests tie to transformers:
// same ids for left-padded batches with eos, repetition penalty and min new tokens, for Qwen2
// (biases, GQA) and Llama (3 query heads per kv head); sampling with the same seeded draws; f16
// weights on a model whose weights are f16 values already (so the cast is exact); every buffer
// freed; 'fused' refuses what it cannot do; split-K attention over long caches; the GEMVs'
// workgroup-memory reduction (forced) as well as the subgroup one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, f16ToF32, f32ToF16, getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, randomWeights, type CausalLM, type GenerateOptions } from '../src';
import { tinyLlama, tinyQwen2 } from './tiny-configs';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const prompts = [
  [5, 17, 3, 44, 9],
  [1, 2, 3],
  [8, 30, 2, 7, 11, 5, 19],
];

describe.each([
  ['qwen2', tinyQwen2()],
  ['llama', tinyLlama()],
])('%s fused decoding', (_name, cfg) => {
  let model: CausalLM;
  beforeAll(async () => {
    // f16-representable weights: the fused f16 GEMV then reads exactly what the eager path reads.
    const weights = randomWeights(cfg, 11, 0.5);
    for (const e of Object.values(weights)) e.data = f16ToF32(f32ToF16(e.data as Float32Array));
    model = await AutoModelForCausalLM.fromConfig(cfg, { weights, dev });
  });
  afterAll(() => model.release());

  const run = (o: GenerateOptions) => model.generateWithDetails(prompts, { maxNewTokens: 12, padTokenId: 0, ...o });

  it('equals the eager path on a left-padded batch with eos, penalty and min new tokens; frees every buffer', async () => {
    const eager = await run({ decoder: 'eager' });
    // eos: a token the first row produces at its 4th step, so that row stops early (unless min new tokens holds it).
    const eos = eager.newTokens[0]![3]!;
    for (const o of [{}, { eosTokenId: eos, padTokenId: 0 }, { eosTokenId: [eos, 50], padTokenId: 0, minNewTokens: 6, repetitionPenalty: 1.3 }] as GenerateOptions[]) {
      const want = await run({ ...o, decoder: 'eager' });
      const before = dev.memory().liveBuffers;
      let dispatches = 0;
      const got = await run({ ...o, decoder: 'fused', onDecoder: (d) => void (dispatches = d.dispatchesPerStep) });
      expect(dev.memory().liveBuffers).toBe(before);
      expect(got.sequences, JSON.stringify(o)).toEqual(want.sequences);
      expect(got.finishReasons).toEqual(want.finishReasons);
      expect(dispatches).toBe(5 * cfg.numHiddenLayers + 3);
    }
  });

  // One model is enough here: compiling more variants costs seconds on lavapipe.
  it.runIf(_name === 'qwen2')('a batch of 36 rows (two GEMV batch tiles, the second partial) equals the eager path', { timeout: 600_000 }, async () => {
    const many = Array.from({ length: 36 }, (_, b) => prompts[b % 3]!.map((t) => (t + b) % cfg.vocabSize));
    const o = { maxNewTokens: 3, padTokenId: 0, eosTokenId: 7 };
    const want = await model.generate(many, { ...o, decoder: 'eager' });
    expect(await model.generate(many, { ...o, decoder: 'fused' })).toEqual(want);
  });

  // Caches past 64 keys split the attention over several workgroups (flash-decoding) and combine
  // them; the short row's padding leaves a split with no keys at all.
  it.runIf(_name === 'qwen2')('split-K attention over a long left-padded cache equals the eager path', { timeout: 300_000 }, async () => {
    const long = [Array.from({ length: 100 }, (_, t) => (t * 13 + 5) % cfg.vocabSize), Array.from({ length: 30 }, (_, t) => (t * 7 + 1) % cfg.vocabSize)];
    const o = { maxNewTokens: 6, padTokenId: 0 };
    const want = await model.generate(long, { ...o, decoder: 'eager' });
    let dispatches = 0;
    expect(await model.generate(long, { ...o, decoder: 'fused', onDecoder: (d) => void (dispatches = d.dispatchesPerStep) })).toEqual(want);
    expect(dispatches).toBe(6 * cfg.numHiddenLayers + 3); // + one combine per layer
  });

  it.runIf(_name === 'qwen2')('f16 weights give the same ids as f32 when the weights are f16 values', async () => {
    const want = await run({ decoder: 'eager', repetitionPenalty: 1.2 });
    const got = await run({ decoder: 'fused', decodeWeightDtype: 'f16', repetitionPenalty: 1.2 });
    expect(got.sequences).toEqual(want.sequences);
  });

  it('samples on the GPU with the draws of the eager path (temperature, top-k, top-p, penalty)', async () => {
    for (const o of [
      { doSample: true, seed: 3, temperature: 0.8, topK: 20, topP: 0.9, repetitionPenalty: 1.2 },
      { doSample: true, seed: 4, temperature: 1.5, topK: 50, topP: 1 },
      { doSample: true, seed: 5, temperature: 1, topK: 1 },
    ] as GenerateOptions[]) {
      const want = await run({ ...o, decoder: 'eager' });
      const got = await run({ ...o, decoder: 'fused' });
      expect(got.sequences, JSON.stringify(o)).toEqual(want.sequences);
    }
  });

  it.runIf(_name === 'qwen2')('the workgroup-memory GEMV reduction (no subgroups) gives the same ids', async () => {
    const want = await run({ decoder: 'eager', repetitionPenalty: 1.2 });
    const got = await run({ decoder: 'fused', decodeSubgroups: false, repetitionPenalty: 1.2 });
    expect(got.sequences).toEqual(want.sequences);
  });

  it.runIf(_name === 'qwen2')("an f16 model (fromConfig dtype 'float16'): fused ids equal its eager ones and the f32 model's", async () => {
    const weights = randomWeights(cfg, 11, 0.5);
    for (const e of Object.values(weights)) e.data = f16ToF32(f32ToF16(e.data as Float32Array));
    const m16 = await AutoModelForCausalLM.fromConfig(cfg, { weights, dev, dtype: 'float16' });
    try {
      expect(m16.embedTokens.dtype).toBe('f16');
      const o = { maxNewTokens: 8, padTokenId: 0 };
      const eager = await m16.generate(prompts, { ...o, decoder: 'eager' });
      expect(await m16.generate(prompts, { ...o, decoder: 'fused' })).toEqual(eager);
      expect(eager).toEqual(await model.generate(prompts, { ...o, decoder: 'eager' }));
    } finally {
      m16.release();
    }
  });

  it("decoder 'fused' refuses sampling without top-k", async () => {
    await expect(run({ decoder: 'fused', doSample: true, topK: 0 })).rejects.toThrow(ConfigError);
  });
});
