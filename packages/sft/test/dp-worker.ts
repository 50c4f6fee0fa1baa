/**
 * One rank of the data-parallel tests (dp.test.ts), bundled by the test and started either alone
 * (`node dp-worker.mjs '<json>'`, the single-process reference) or under mpirun. Trains a tiny
 * Llama-architecture model with LoRA (dropout on, so its seeding is checked too) and, on rank 0,
 * writes the LoRA weights to `<out>/weights.json`.
 *   json: { out, accumulation, steps, saveSteps?, killRank?, killAtReduce?, throwInstead?, resume? }
 */
import { getDevice, device } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig } from '@q/model';
import type { PeftModel } from '@q/lora';
import { openWorld, SFTTrainer, type Communicator } from '../src';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const o = JSON.parse(process.argv[2]!) as {
  out: string; tokenizer: string; accumulation: number; steps: number; saveSteps?: number; killRank?: number; killAtReduce?: number; throwInstead?: boolean; resume?: string;
};

// The rank dies (SIGKILL, as the OOM killer would) or throws (as on a device error) at its n-th
// gradient all-reduce.
function dying(c: Communicator, rank: number, at: number, throwInstead: boolean): Communicator {
  let calls = 0;
  return {
    rank: c.rank, size: c.size, localRank: c.localRank, localSize: c.localSize, backend: c.backend,
    allreduceSum(buf) {
      if (c.rank === rank && ++calls === at) {
        if (throwInstead) throw new Error('injected failure');
        process.kill(process.pid, 'SIGKILL');
      }
      c.allreduceSum(buf);
    },
    allreduceSum64: (b) => c.allreduceSum64(b),
    barrier: () => c.barrier(),
    abort: (code, m) => c.abort(code, m),
    finalize: () => c.finalize(),
  };
}

await getDevice();
const world = await openWorld();
const comm = o.killRank !== undefined ? dying(world, o.killRank, o.killAtReduce ?? 1, o.throwInstead ?? false) : world;
const tok = await AutoTokenizer.fromPretrained(o.tokenizer);
const cfg = parseModelConfig(
  { model_type: 'llama', vocab_size: 32000, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 },
  'dp test',
);
const model = await AutoModelForCausalLM.fromConfig(cfg, { seed: 7 });
// Rows of different lengths: ranks see different label-token counts, so the normaliser matters.
const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'a', 'lazy', 'dog'];
const rows = Array.from({ length: 20 }, (_, i) => ({ text: `row ${i}: ${Array.from({ length: 2 + ((i * 7) % 11) }, (_, j) => words[(i + j) % words.length]).join(' ')}` }));
const trainer = new SFTTrainer({
  model, tokenizer: tok, trainDataset: rows, communicator: comm,
  peftConfig: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], lora_dropout: 0.1 },
  args: {
    output_dir: o.out, per_device_train_batch_size: 2, gradient_accumulation_steps: o.accumulation, max_steps: o.steps,
    learning_rate: 1e-2, max_grad_norm: 0.5, lr_scheduler_type: 'linear', logging_steps: 1, seed: 3,
    save_steps: o.saveSteps ?? 500, save_strategy: o.saveSteps ? 'steps' : 'no',
  },
  progress: false,
  warn: () => {},
});
await trainer.train({ resumeFromCheckpoint: o.resume });
if (comm.rank === 0) {
  const peft = trainer.model as PeftModel;
  const w: Record<string, number[]> = {};
  for (const [n, t] of peft.namedParameters()) if (n.includes('lora_')) w[n] = Array.from(await t.read());
  writeFileSync(join(o.out, 'weights.json'), JSON.stringify({ step: trainer.state.globalStep, log: trainer.state.logHistory, w }));
}
device().dispose();
