// fp16 mixed precision against the f32 reference: the same model, adapter init and data, 50 steps
// each; the loss curves must stay close, and the loss scale must be saved and restored with checkpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, randomWeights, type AutoTokenizer } from '@q/model';
import { renderChatTemplate } from '@q/chat-template';
import type { PeftModel } from '@q/lora';
import { loadDataset, SFTTrainer, type LogEntry } from '../src';

const data = fileURLToPath(new URL('../fixtures/tiny-chat.jsonl', import.meta.url));
const cfg = parseModelConfig(
  { model_type: 'llama', vocab_size: 260, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256 },
  'test config',
);

let dev: QDevice;
let rows: Record<string, unknown>[];
// A byte-level tokenizer (bos 1, eos 2, pad 0, byte b -> b + 3) keeps the vocabulary at 260, so
// 100 steps of a tiny model run in a minute on a CPU adapter; what it tokenizes is the seed's
// Zephyr-formatted chat text.
const tok = {
  encode: (text: string, o: { addSpecialTokens?: boolean } = {}) => [...(o.addSpecialTokens === false ? [] : [1]), ...[...new TextEncoder().encode(text)].map((b) => b + 3)],
  eosTokenId: 2,
  padTokenId: 0,
  settings: { bosToken: '<s>', eosToken: '</s>', padToken: '<pad>' },
} as unknown as AutoTokenizer;
beforeAll(async () => {
  dev = await getDevice();
  const ds = await loadDataset(data, { split: 'train' });
  rows = [...ds].map((r) => ({ text: renderChatTemplate(r.messages as never, { templateName: 'zephyr', specialTokens: { eos_token: '</s>', bos_token: '<s>' } }) }));
});
afterAll(() => dev.dispose());

const STEPS = 50;

async function run(fp16: boolean, out: string, extra: Record<string, unknown> = {}, resume?: string) {
  const model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 11, 0.05, { embedStd: 0.3 }) });
  const losses: number[] = [];
  const trainer = new SFTTrainer({
    model,
    tokenizer: tok,
    trainDataset: rows,
    peftConfig: { r: 8, lora_alpha: 16, target_modules: 'all-linear', lora_dropout: 0.0 },
    datasetTextField: 'text',
    maxSeqLength: 40,
    args: {
      output_dir: out, per_device_train_batch_size: 4, learning_rate: 5e-3, lr_scheduler_type: 'linear', warmup_steps: 2,
      max_steps: STEPS, logging_steps: 1, save_strategy: 'no', seed: 0, fp16, ...extra,
    },
    progress: false,
    warn: () => {},
    onLog: (e: LogEntry) => {
      if (e.loss !== undefined) losses.push(e.loss);
    },
  });
  await trainer.train({ resumeFromCheckpoint: resume });
  const scaler = trainer.precision.scaler?.stateDict() ?? null;
  const description = trainer.precision.description;
  (trainer.model as PeftModel).release();
  return { losses, scaler, description };
}

describe('fp16 mixed precision', () => {
  it(`trains ${STEPS} steps in f16 within a small gap of f32 from the same start`, async () => {
    if (!dev.info.f16) throw new Error('this adapter lacks shader-f16 (lavapipe has it)');
    const f32 = await run(false, mkdtempSync(join(tmpdir(), 'q-f32-')));
    const dir16 = mkdtempSync(join(tmpdir(), 'q-f16-'));
    const f16 = await run(true, dir16, { save_strategy: 'steps', save_steps: STEPS - 2 });
    expect(f16.description).toMatch(/^fp16: f16 activations/);
    expect(f32.losses).toHaveLength(STEPS);
    expect(f16.losses).toHaveLength(STEPS);
    // Both learn: the last 5 steps' mean loss is well under the first step's.
    const tail = (l: number[]) => l.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(tail(f32.losses)).toBeLessThan(f32.losses[0]! * 0.6);
    expect(tail(f16.losses)).toBeLessThan(f16.losses[0]! * 0.6);
    // Same start: the first loss differs by f16 rounding only.
    expect(Math.abs(f16.losses[0]! - f32.losses[0]!)).toBeLessThan(5e-3 * f32.losses[0]!);
    // The curves stay together: per step within 5% (relative), on average within 1.5%.
    const rel = f16.losses.map((l, i) => Math.abs(l - f32.losses[i]!) / f32.losses[i]!);
    const meanRel = rel.reduce((a, b) => a + b, 0) / rel.length;
    console.log(`fp16 vs f32 over ${STEPS} steps: max rel gap ${Math.max(...rel).toFixed(4)}, mean ${meanRel.toFixed(4)}; scaler ${JSON.stringify(f16.scaler)}`);
    expect(Math.max(...rel)).toBeLessThan(0.05);
    expect(meanRel).toBeLessThan(0.015);
    expect(f32.scaler).toBeNull();
    // Checkpoints hold the loss scale under torch's keys; a run resumed 2 steps before the end
    // restores it and ends with the same scaler state and the same last losses.
    expect(JSON.parse(readFileSync(join(dir16, `checkpoint-${STEPS}`, 'scaler.json'), 'utf8'))).toEqual(f16.scaler);
    const saved = JSON.parse(readFileSync(join(dir16, `checkpoint-${STEPS - 2}`, 'scaler.json'), 'utf8'));
    expect(saved).toMatchObject({ scale: 65536, growth_interval: 2000, _growth_tracker: f16.scaler!._growth_tracker! - 2 });
    const resumed = await run(true, mkdtempSync(join(tmpdir(), 'q-f16-resume-')), {}, join(dir16, `checkpoint-${STEPS - 2}`));
    expect(resumed.scaler).toEqual(f16.scaler);
    expect(resumed.losses).toEqual(f16.losses.slice(-2));
  }, 600_000);

  it('packing (bfd, padding-free) trains with position ids restarting per example', async () => {
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 11, 0.05, { embedStd: 0.3 }) });
    const losses: number[] = [];
    const trainer = new SFTTrainer({
      model, tokenizer: tok, trainDataset: rows,
      peftConfig: { r: 8, lora_alpha: 16, target_modules: 'all-linear', lora_dropout: 0.0 },
      datasetTextField: 'text', maxSeqLength: 160, packing: true,
      args: { output_dir: mkdtempSync(join(tmpdir(), 'q-pack-')), per_device_train_batch_size: 2, learning_rate: 5e-3, max_steps: 3, logging_steps: 1, save_strategy: 'no', seed: 0 },
      progress: false,
      warn: () => {},
      onLog: (e: LogEntry) => {
        if (e.loss !== undefined) losses.push(e.loss);
      },
    });
    const blocks = (trainer as unknown as { trainSet: { inputIds: number[]; positionIds?: number[] }[] }).trainSet;
    // Every example lands whole in some block: fewer blocks than examples, each ≤ 160 tokens, and
    // as many sample starts (position 0) as examples.
    expect(blocks.length).toBeLessThan(rows.length);
    expect(Math.max(...blocks.map((b) => b.inputIds.length))).toBeLessThanOrEqual(160);
    expect(blocks.reduce((a, b) => a + b.positionIds!.filter((p) => p === 0).length, 0)).toBe(rows.length);
    await trainer.train();
    expect(losses).toHaveLength(3);
    for (const l of losses) expect(Number.isFinite(l) && l > 0).toBe(true);
    (trainer.model as PeftModel).release();
  }, 600_000);
});
