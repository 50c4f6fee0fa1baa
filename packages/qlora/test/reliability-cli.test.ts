// Issue #10 through the CLI, on a tiny model folder (test/tiny-model.ts): each case a user hit,
// with the message they now get. The catalogue of every case is test/catalogue.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { device } from '@q/core';
import { runCli } from '../src/cli/run-cli';
import { captureIO } from './helpers';
import { writeTinyChat, writeTinyModel, TINY_CONFIG } from './tiny-model';

const dir = mkdtempSync(join(tmpdir(), 'qlora-rel-'));
const model = join(dir, 'tiny');
const data = join(dir, 'chat.jsonl');
const data4 = join(dir, 'chat4.jsonl');
beforeAll(async () => {
  await writeTinyModel(model);
  await writeTinyChat(data);
  await writeTinyChat(data4, 4);
});
afterAll(() => {
  try {
    device().dispose();
  } catch {
    // no device was opened
  }
});

export async function qlora(args: string[]) {
  const io = captureIO();
  const code = await runCli(args, io, { from: 'user' });
  return { code, out: io.out(), err: io.err() };
}

function config(name: string, training: Record<string, unknown>, o: { data?: string; model?: string } = {}): string {
  const f = join(dir, `${name}.yaml`);
  const lines = [
    `model: ${o.model ?? model}`,
    'dataset:',
    `  path: ${o.data ?? data}`,
    '  test_size: 0',
    'lora:',
    '  r: 2',
    '  lora_alpha: 4',
    '  target_modules: [q_proj, v_proj]',
    'training:',
    ...Object.entries({ output_dir: join(dir, name), per_device_train_batch_size: 2, logging_steps: 1, save_steps: 1, bf16: false, ...training }).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    'preview:',
    '  questions: 0',
  ];
  writeFileSync(f, lines.join('\n'));
  return f;
}

function allFinite(file: string): boolean {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__' || v.dtype !== 'F32') continue;
    const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + n + v.data_offsets[0], bytes.byteOffset + 8 + n + v.data_offsets[1]));
    if (!f.every(Number.isFinite)) return false;
  }
  return true;
}

const steps = (out: string) =>
  readFileSync(join(out, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss?: number });

describe('NaN/Inf training (item 1)', () => {
  it('stops with exit 1 at the step whose update overflows the weights, keeps the last good checkpoint, writes nothing non-finite', async () => {
    const out = join(dir, 'nan');
    const r = await qlora(['train', config('nan', { max_steps: 4, learning_rate: 1e38, warmup_steps: 1, max_grad_norm: 0 })]);
    expect(r.code, r.err + r.out).toBe(1);
    // Warmup: step 1 has lr 0 (checkpoint-1 is good); step 2's update of lr 1e38 overflows.
    expect(r.err).toMatch(/qlora: training diverged at step 2: the update of step 2 made "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_[AB]\.default\.weight" (NaN|-?Infinity) \(at index \d+\)\. /);
    expect(r.err).toContain(`Nothing from this step on was saved; the last good checkpoint is ${join(out, 'checkpoint-1')}. Lower learning_rate, set max_grad_norm, or check the data.`);
    expect(readdirSync(out).filter((n) => !n.startsWith('.')).sort()).toEqual(['checkpoint-1', 'trainer_log.jsonl']);
    for (const f of ['adapter_model.safetensors', 'optimizer.safetensors']) expect(allFinite(join(out, 'checkpoint-1', f)), f).toBe(true);
  });
});

describe('options honoured (item 5) and validated global_step (item 8)', () => {
  it('a larger max_steps on resume trains on to it; trainer_log.jsonl does not repeat steps', async () => {
    const out = join(dir, 'resume');
    expect((await qlora(['train', config('resume', { max_steps: 2 })])).code).toBe(0);
    // The run that was stopped after checkpoint-1 had logged step 2 already.
    const r = await qlora(['train', config('resume', { max_steps: 3, resume_from_checkpoint: join(out, 'checkpoint-1') })]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/trained 3 steps/);
    expect(steps(out).map((e) => e.step)).toEqual([1, 2, 3]);
    expect(JSON.parse(readFileSync(join(out, 'checkpoint-3', 'trainer_state.json'), 'utf8'))).toMatchObject({ global_step: 3, max_steps: 3 });
  });

  it('save_steps below 1 is a fraction of max_steps, as in transformers; save_strategy epoch saves at each epoch end', async () => {
    const a = join(dir, 'ratio');
    expect((await qlora(['train', config('ratio', { max_steps: 4, save_steps: 0.5 })])).code).toBe(0);
    expect(readdirSync(a).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-2', 'checkpoint-4']);
    // 4 rows, batch 2: 2 steps per epoch.
    const b = join(dir, 'epoch');
    expect((await qlora(['train', config('epoch', { max_steps: 4, save_strategy: 'epoch' }, { data: data4 })])).code).toBe(0);
    expect(readdirSync(b).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-2', 'checkpoint-4']);
  });

  it('a checkpoint whose global_step is "abc" is refused, naming the field', async () => {
    const out = join(dir, 'resume');
    const st = join(out, 'checkpoint-2', 'trainer_state.json');
    writeFileSync(st, JSON.stringify({ ...JSON.parse(readFileSync(st, 'utf8')), global_step: 'abc' }));
    const r = await qlora(['train', config('resume', { max_steps: 3, resume_from_checkpoint: join(out, 'checkpoint-2') })]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`qlora: ${st}: "global_step" must be an integer >= 0, got "abc"`);
    expect(existsSync(join(out, 'checkpoint-NaN'))).toBe(false);
  });
});

describe('locks, early checks and check order (items 4, 6, 12)', () => {
  it('a second run into a locked output_dir refuses before loading anything', async () => {
    const out = join(dir, 'locked');
    mkdirSync(out);
    writeFileSync(join(out, '.qlora.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), started: 'now', command: 'qlora train other.yaml' }));
    const r = await qlora(['train', config('locked', { max_steps: 1 })]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`qlora: ${out} is in use by another run (pid ${process.ppid} on ${hostname()}, "qlora train other.yaml", since now)`);
    expect(r.err).not.toContain('loading');
  });

  it('output_dir that is a file, or below a file, is refused before loading', async () => {
    const f = join(dir, 'a-file');
    writeFileSync(f, 'x');
    const r1 = await qlora(['train', config('f1', { max_steps: 1, output_dir: f })]);
    expect(r1.err).toContain(`qlora: output_dir ${f} is a file, not a folder; choose a folder`);
    const r2 = await qlora(['train', config('f2', { max_steps: 1, output_dir: join(f, 'sub') })]);
    expect(r2.err).toContain(`qlora: output_dir ${join(f, 'sub')} cannot be created: ${f} is a file, not a folder`);
    expect([r1.code, r2.code]).toEqual([1, 1]);
    expect(r1.err + r2.err).not.toContain('loading');
  });

  it('train checks the model folder before the dataset; merge checks the adapter folder before loading the base', async () => {
    const r = await qlora(['train', config('order', { max_steps: 1 }, { model: join(dir, 'no-model'), data: join(dir, 'no-data.jsonl') })]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`qlora: ${join(dir, 'no-model')}: model folder not found`);
    const empty = join(dir, 'empty-adapter');
    mkdirSync(empty);
    const m = await qlora(['merge', '--base', model, '--adapter', empty, '--out', join(dir, 'm')]);
    expect(m.code).toBe(1);
    expect(m.err).toContain(`qlora: ${empty}: adapter folder has no adapter_config.json`);
    expect(m.err).not.toContain('loading');
  });

  it('merge --out <a file> is a clear error, not EEXIST', async () => {
    const f = join(dir, 'out-file');
    writeFileSync(f, 'x');
    const ad = join(dir, 'resume');
    const m = await qlora(['merge', '--base', model, '--adapter', ad, '--out', f]);
    expect(m.code).toBe(1);
    expect(m.err).toContain(`qlora: --out ${f} is a file, not a folder; choose a folder`);
  });
});

describe('memory plan (item 10)', () => {
  it('num_hidden_layers 1e9 is refused before loading, with what it needs and what there is', async () => {
    const big = join(dir, 'big');
    await writeTinyModel(big);
    writeFileSync(join(big, 'config.json'), JSON.stringify({ ...TINY_CONFIG, num_hidden_layers: 1e9 }));
    const r = await qlora(['quantize', '--model', big, '--out', join(dir, 'bigq')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`qlora: ${big}/config.json: the model needs 8\\.6 TiB for its weights \\(1000000000 layers, hidden_size 16, intermediate_size 32, vocab_size 259: 2\\.368e\\+12 parameters\\), but this machine has [\\d.]+ GiB of memory; check config.json`));
  });
});
