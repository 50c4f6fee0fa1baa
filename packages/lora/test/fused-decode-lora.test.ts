// The fused decoder of @q/model on the model right after QLoRA training: NF4 base weights read as
// codes by the GEMVs, and an unmerged LoRA adapter on q/k/v added in the qkv GEMV's epilogue. It
// must choose the same greedy ids as the eager path (nf4Linear + LoRA matmuls), batched with left
// padding, and free every buffer it made.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getDevice, keep, Rng, tensor, type QDevice } from '@q/core';
import { AutoModelForCausalLM, fusedUnsupported, parseModelConfig, randomWeights } from '@q/model';
import { getPeftModel } from '../src';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

// NF4 needs in_features divisible by the 64-element block: hidden 64, intermediate 128.
const cfg = parseModelConfig(
  {
    model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], vocab_size: 97, hidden_size: 64, intermediate_size: 128,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128,
    rms_norm_eps: 1e-6, rope_theta: 1000000.0, tie_word_embeddings: true, torch_dtype: 'float32',
  },
  'tiny-qwen2-64/config.json',
);

it('NF4 base + unmerged q/k/v LoRA: fused ids equal the eager ones; buffers freed', { timeout: 300_000 }, async () => {
  const base = await AutoModelForCausalLM.fromConfig(cfg, {
    weights: randomWeights(cfg, 3, 0.5),
    dev,
    quantizationConfig: { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true },
  });
  const peft = getPeftModel(base, { r: 8, lora_alpha: 16, lora_dropout: 0.1, target_modules: ['q_proj', 'v_proj'] });
  try {
    // A trained-looking adapter: both factors non-zero, so the low-rank term changes the choices.
    let k = 0;
    for (const l of peft.layers.values()) {
      const rng = new Rng(100 + k++);
      const u = (n: number) => Float32Array.from({ length: n }, () => (2 * rng.next() - 1) * 0.5);
      l.setWeights(keep(tensor(u(l.r * l.inFeatures), [l.r, l.inFeatures], { dev })), keep(tensor(u(l.outFeatures * l.r), [l.outFeatures, l.r], { dev })));
    }
    // Training mode (dropout on) cannot be fused; eval() can.
    expect(fusedUnsupported(base, 2)).toMatch(/dropout/);
    peft.eval();
    expect(fusedUnsupported(base, 2)).toBeNull();
    const prompts = [[5, 17, 3, 44, 9], [1, 2, 3]];
    const o = { maxNewTokens: 10, padTokenId: 0, repetitionPenalty: 1.1 };
    const want = await base.generate(prompts, { ...o, decoder: 'eager' });
    const withoutLora = await (async () => {
      for (const l of peft.layers.values()) l.enabled = false;
      try {
        return await base.generate(prompts, { ...o, decoder: 'eager' });
      } finally {
        for (const l of peft.layers.values()) l.enabled = true;
      }
    })();
    expect(want).not.toEqual(withoutLora); // the adapter matters here
    const before = dev.memory().liveBuffers;
    const got = await base.generate(prompts, { ...o, decoder: 'fused' });
    expect(dev.memory().liveBuffers).toBe(before);
    expect(got).toEqual(want);
  } finally {
    peft.release();
  }
});
