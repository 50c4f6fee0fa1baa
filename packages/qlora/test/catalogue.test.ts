// The catalogue of issue #10: every case a careful user hit, with the message they now get. The
// CLI cases run `qlora` in-process on a tiny model folder (test/tiny-model.ts); the library cases
// call the function that failed. Elsewhere, with the same purpose: the states a kill leaves
// (packages/model/src/files/atomic-folder.test.ts), backward()'s rules
// (packages/core/test/autograd-rules.test.ts), crash injection (test/crash-injection.test.ts) and
// fuzzing (test/fuzz.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { device, ConfigError, parseSafetensorsHeader, serializeSafetensors } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer } from '@q/model';
import { getPeftModel, loadAdapter, saveAdapter } from '@q/lora';
import { quantizeNF4 } from '@q/nf4';
import { NonFiniteGuard, SFTTrainer, parseRows } from '@q/sft';
import { runCli, userMessage } from '../src/cli/run-cli';
import { captureIO } from './helpers';
import { checkOutputDir } from '../src/run/preflight';
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
    // Outputs are renamed in whole, so the working folder cannot be one.
    const r3 = await qlora(['train', config('f3', { max_steps: 1, output_dir: process.cwd() })]);
    expect(r3.err).toContain(`qlora: output_dir ${process.cwd()} is the working folder or above it; choose a folder of its own (e.g. ${join(process.cwd(), 'out')})`);
    expect([r1.code, r2.code, r3.code]).toEqual([1, 1, 1]);
    expect(r1.err + r2.err + r3.err).not.toContain('loading');
  });

  it('free disk space is checked against what the run will write', async () => {
    const d = join(dir, 'room');
    await expect(checkOutputDir(d, 'output_dir', 2 ** 60)).rejects.toThrow(
      new RegExp(`^output_dir ${d}: the disk has [\\d.]+ [KMGT]?i?B free, but this run will write up to 1\\.0 EiB; free some space or choose another folder$`),
    );
    await expect(checkOutputDir(d, 'output_dir', 1)).resolves.toBeUndefined();
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

describe('dataset rows named by their line in the file (item 11)', () => {
  it('a bad row is named by its line, not its position after the shuffle', async () => {
    const bad = join(dir, 'bad-row.jsonl');
    const rows = readFileSync(data, 'utf8').trim().split('\n');
    rows.splice(4, 0, JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant' }] }));
    writeFileSync(bad, `${rows.join('\n')}\n`);
    const r = await qlora(['train', config('bad-row', { max_steps: 1 }, { data: bad })]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`qlora: ${bad} line 5: messages[1].content: expected a string or an array of content parts, got undefined`);
  });
});

describe('logs (item 11)', () => {
  it('the last evaluation is logged once, and the progress bar ends on the logged loss', async () => {
    const out = join(dir, 'evallog');
    const cfg = config('evallog', { max_steps: 2, logging_steps: 2, eval_strategy: 'steps', eval_steps: 2 });
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('  test_size: 0', '  test_size: 2'));
    const r = await qlora(['train', cfg]);
    expect(r.code, r.err).toBe(0);
    const entries = readFileSync(join(out, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss?: number; eval_loss?: number });
    expect(entries.map((e) => [e.step, e.loss !== undefined ? 'loss' : 'eval'])).toEqual([[2, 'loss'], [2, 'eval']]);
    // The bar's last loss is the mean of steps 1-2, as logged (it showed step 2's alone before).
    const bar = [...r.err.matchAll(/train \[[#.]+\] 2\/2 loss ([\d.]+)/g)].pop()![1]!;
    expect(bar).toBe(entries[0]!.loss!.toFixed(3));
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

const quiet = { progress: false as const, warn: () => {} };

describe('library cases', () => {
  it('1. the guard: a NaN loss stops the run at once; with loss scaling, a long run of skipped steps does', () => {
    const g = new NonFiniteGuard({ lastGood: () => 'out/checkpoint-4' });
    expect(g.check(5, 1.5, 0.3)).toBe('update');
    expect(() => g.check(6, NaN, 0.3)).toThrow(
      'training diverged at step 6: the loss is NaN. Nothing from this step on was saved; the last good checkpoint is out/checkpoint-4. Lower learning_rate, set max_grad_norm, or check the data.',
    );
    const s = new NonFiniteGuard({ lossScaling: true, maxConsecutiveSkips: 3 });
    expect([s.check(1, 2, Infinity), s.check(2, 2, Infinity), s.check(3, 2, 1), s.check(4, 2, NaN), s.check(5, 2, NaN)]).toEqual(['skip', 'skip', 'update', 'skip', 'skip']);
    expect(() => s.check(6, 2, NaN)).toThrow(
      'training diverged at step 6: the gradient norm is NaN for 3 steps in a row, so every update since step 4 was skipped (loss scaling cannot recover from this). Nothing from this step on was saved. Lower learning_rate, set max_grad_norm, or check the data.',
    );
  });

  it('3. an adapter whose weights and config come from different saves is refused', async () => {
    const m = await AutoModelForCausalLM.fromPretrained(model);
    const a = join(dir, 'pair-a');
    const b = join(dir, 'pair-b');
    const p1 = getPeftModel(m, { r: 2, loraAlpha: 4, targetModules: ['q_proj'] });
    await saveAdapter(p1, a);
    p1.unload();
    const p2 = getPeftModel(m, { r: 2, loraAlpha: 8, targetModules: ['q_proj'] });
    await saveAdapter(p2, b);
    p2.unload();
    copyFileSync(join(b, 'adapter_config.json'), join(a, 'adapter_config.json'));
    await expect(loadAdapter(m, a)).rejects.toThrow(
      `${join(a, 'adapter_model.safetensors')}: was saved with a different adapter_config.json than the one beside it (the two files come from different saves); save the adapter again`,
    );
    m.release();
  });

  it('5. unknown option keys of fromPretrained and quantizeNF4 are refused with a suggestion', async () => {
    await expect(AutoModelForCausalLM.fromPretrained(model, { bnb4bitUseDoubleQuant: true } as never)).rejects.toThrow(
      /^fromPretrained: invalid value for "bnb4bitUseDoubleQuant": expected a known field; /,
    );
    await expect(AutoModelForCausalLM.fromPretrained(model, { quantizationConfig: { bnb_4bit_use_double_qant: true } })).rejects.toThrow(ConfigError);
    expect(() => quantizeNF4(new Float32Array(64), { doubleQuantize: true } as never)).toThrow(
      'quantizeNF4: invalid value for "doubleQuantize": expected a known field; did you mean "doubleQuant"?, got true',
    );
    // bitsandbytes' own name for it is understood.
    expect(quantizeNF4(new Float32Array(64).fill(1), { compress_statistics: true } as never).doubleQuant).toBe(true);
  });

  it('5. checkpoint tensors that config.json does not use are refused', async () => {
    const two = join(dir, 'two-layers');
    await writeTinyModel(two);
    writeFileSync(join(two, 'config.json'), JSON.stringify({ ...TINY_CONFIG, num_hidden_layers: 1 }));
    await expect(AutoModelForCausalLM.fromPretrained(two)).rejects.toThrow(
      `${two}: 12 tensor(s) of the checkpoint are not used by config.json (1 layers): "model.layers.1.input_layernorm.weight", "model.layers.1.mlp.down_proj.weight", "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", ...; does config.json belong to these weights?`,
    );
  });

  it('9. file-system errors become one line naming the path, never a stack', () => {
    const real = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return userMessage(e);
      }
      throw new Error('no error');
    };
    expect(real(() => writeFileSync('/dev/full', 'x'))).toBe('no space left on the device (ENOSPC, write failed)');
    const f = join(dir, 'plain-file');
    writeFileSync(f, 'x');
    expect(real(() => mkdirSync(join(f, 'sub')))).toBe(`${join(f, 'sub')}: a part of the path is a file, not a folder (ENOTDIR, mkdir failed)`);
    expect(real(() => mkdirSync(dir))).toBe(`${dir}: already exists (EEXIST, mkdir failed)`);
    expect(userMessage(new TypeError('a bug'))).toBeNull();
  });

  it('11. unclear messages made clear', async () => {
    expect(new ConfigError('learningRate', 'a finite number > 0', NaN, 'TrainingArguments').message).toBe(
      'TrainingArguments: invalid value for "learningRate": expected a finite number > 0, got NaN',
    );
    expect(new ConfigError('x', 'a number', -Infinity).message).toBe('invalid value for "x": expected a number, got -Infinity');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n + 5n, true);
    await expect(parseSafetensorsHeader(huge, 'w.safetensors')).rejects.toThrow('w.safetensors: header length 9223372036854775813 exceeds the 100000000-byte cap; not a safetensors file?');
    await expect(parseRows('latin1.jsonl', new Uint8Array([...new TextEncoder().encode('{"text": "ok"}\n{"text": "caf'), 0xe9, 0x22, 0x7d]))).rejects.toThrow(
      'latin1.jsonl: not valid UTF-8 at byte 28 (line 2); save the file as UTF-8',
    );
    const m = await AutoModelForCausalLM.fromPretrained(model);
    const tok = await AutoTokenizer.fromPretrained(model);
    const peftConfig = { r: 2, loraAlpha: 4, targetModules: ['q_proj'] };
    const args = { outputDir: join(dir, 'unused'), maxLength: 64 };
    expect(() => new SFTTrainer({ model: m, tokenizer: tok, trainDataset: [], peftConfig, args, ...quiet })).toThrow('the training dataset has no rows (is the data file empty?)');
    expect(() => new SFTTrainer({ model: m, tokenizer: tok, trainDataset: [{ messages: 'hi there' }], peftConfig, args, ...quiet })).toThrow(
      'row 0: "messages" must be an array of {role, content} objects, got a string ("hi there")',
    );
    const warnings: string[] = [];
    const rows = [
      { prompt: 'a', completion: 'b' },
      // Cut at max_length 4 before its completion starts: no label left.
      { prompt: 'cccccccc', completion: 'd' },
    ];
    const t = new SFTTrainer({ model: m, tokenizer: tok, trainDataset: rows, peftConfig, args: { ...args, maxLength: 4, completionOnlyLoss: true }, progress: false, warn: (w) => warnings.push(w) });
    (t.model as { unload(): void }).unload();
    expect(warnings).toContain('1 of 2 training rows have no token to learn (every label masked) and were dropped');
    m.release();
  });
});
