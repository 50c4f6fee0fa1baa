import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backward, getDevice, keep, tidy, type QDevice } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig } from '../src';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe('gradient checkpointing memory', () => {
  it('holds far fewer activation bytes at peak than a plain backward', async () => {
    const cfg = parseModelConfig(
      { model_type: 'llama', vocab_size: 64, hidden_size: 32, intermediate_size: 128, num_hidden_layers: 8, num_attention_heads: 2, num_key_value_heads: 1 },
      'test',
    );
    const model = await AutoModelForCausalLM.fromConfig(cfg, { seed: 2 });
    for (const [, t] of model.namedParameters()) t.requiresGrad = true;
    const ids = [Array.from({ length: 96 }, (_, i) => (i * 7) % 64)];
    const peakOf = async (ckpt: boolean) => {
      model.gradientCheckpointing = ckpt;
      await dev.sync();
      dev.pool.resetPeak();
      const rest = dev.memory().liveBytes;
      tidy(() => {
        const loss = model.forward({ inputIds: ids, labels: ids }).loss!;
        backward(loss);
      });
      await dev.sync();
      const peak = dev.memory().peakBytes - rest;
      for (const [, t] of model.namedParameters()) {
        t.grad?.release();
        t.grad = null;
      }
      return peak;
    };
    const plain = await peakOf(false);
    const ck = await peakOf(true);
    // Gradients of every parameter are part of both peaks; activations are what checkpointing saves.
    expect(ck).toBeLessThan(plain * 0.75);
    keep(model.embedTokens);
    model.release();
  });
});
