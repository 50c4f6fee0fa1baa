// Crash injection (issue #10): `qlora train`, `merge` and `quantize` on a tiny model, each killed
// with SIGKILL at seeded random moments, 30+ kills in all. After each kill every output folder
// that looks complete must load and equal the uninterrupted run's output, byte for byte; the run
// is then restarted (train resumes from its latest checkpoint) and, once it finishes, its output
// equals the uninterrupted one and nothing temporary is left behind.
//
// The kill moments are fractions (from a seeded generator) of how long the uninterrupted run took
// on this machine, so they spread over the whole run at any speed; no assertion depends on time.
// Seed: CRASH_SEED (default 1); the seed and each kill's moment are printed on failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleNode } from '../../../scripts/bundle-node.mjs';
import { Rng, parseSafetensorsHeader } from '@q/core';
import { writeTinyChat, writeTinyModel } from './tiny-model';

const pkgs = fileURLToPath(new URL('../../', import.meta.url));
// Under node_modules (ignored by git), so `webgpu` and the CLI's dependencies resolve from there.
const cli = join(pkgs, 'qlora', 'node_modules', '.q-crash', 'cli.mjs');
const seed = Number(process.env.CRASH_SEED ?? 1);
const rng = new Rng(seed);
const dir = mkdtempSync(join(tmpdir(), 'qlora-crash-'));
const model = join(dir, 'tiny');
const data = join(dir, 'chat.jsonl');
const log: string[] = [`CRASH_SEED=${seed}`];

interface Run {
  code: number | null;
  killed: boolean;
  ms: number;
  err: string;
}

/** Runs the bundled CLI; with `killAfterMs`, SIGKILLs it then unless it ended before. */
function qlora(args: string[], killAfterMs?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b) => (err += String(b)));
    let killed = false;
    const timer = killAfterMs === undefined ? null : setTimeout(() => {
      killed = p.kill('SIGKILL');
    }, killAfterMs);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, killed: killed && signal === 'SIGKILL', ms: performance.now() - t0, err });
    });
  });
}

function trainConfig(out: string, resume: boolean): string {
  const f = join(dir, `train-${resume ? 'resume' : 'fresh'}-${out.split('/').pop()}.yaml`);
  writeFileSync(
    f,
    [
      `model: ${model}`,
      'dataset:',
      `  path: ${data}`,
      '  test_size: 0',
      'lora: { r: 2, lora_alpha: 4, target_modules: [q_proj, v_proj] }',
      'training:',
      `  output_dir: ${out}`,
      '  max_steps: 4',
      '  save_steps: 1',
      '  logging_steps: 1',
      '  per_device_train_batch_size: 2',
      '  bf16: false',
      ...(resume ? ['  resume_from_checkpoint: true'] : []),
      'preview: { questions: 0 }',
    ].join('\n'),
  );
  return f;
}

/** Every plain file under `d` (names starting with "." are temporaries and locks), relative. */
function files(d: string, under = ''): string[] {
  return readdirSync(join(d, under))
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (statSync(join(d, under, n)).isDirectory() ? files(d, join(under, n)) : [join(under, n)]))
    .sort();
}

const bytes = (f: string) => readFileSync(f);

/** The folder loads: its safetensors headers parse and its JSON files parse. */
async function loads(d: string): Promise<void> {
  for (const f of files(d)) {
    const p = join(d, f);
    if (f.endsWith('.safetensors')) await parseSafetensorsHeader(new Uint8Array(bytes(p)), p);
    if (f.endsWith('.json')) JSON.parse(readFileSync(p, 'utf8'));
  }
}

/** `got` equals the reference folder `ref`: same files, same bytes (only `compare` if given). */
function sameFolder(got: string, ref: string, compare?: (f: string) => boolean): void {
  const names = files(got).filter((f) => !compare || compare(f));
  expect(names, `${got} vs ${ref}`).toEqual(files(ref).filter((f) => !compare || compare(f)));
  for (const f of names) expect(bytes(join(got, f)).equals(bytes(join(ref, f))), `${join(got, f)} differs from the uninterrupted run (${log.join(', ')})`).toBe(true);
}

/** Nothing temporary of a dead writer is left in `d` or beside it. */
function noLeftovers(d: string): void {
  const base = d.split('/').pop()!;
  const beside = readdirSync(dirname(d)).filter((n) => n.startsWith(`.${base}.`));
  const inside = existsSync(d) ? readdirSync(d).filter((n) => n.startsWith('.')) : [];
  expect([...beside, ...inside], log.join(', ')).toEqual([]);
}

const ref = { train: join(dir, 'ref-train'), merged: join(dir, 'ref-merged'), quant: join(dir, 'ref-q4') };
const ms = { train: 0, merge: 0, quantize: 0 };

beforeAll(async () => {
  await bundleNode(join(pkgs, 'qlora', 'src', 'cli.ts'), cli);
  await writeTinyModel(model);
  await writeTinyChat(data);
  // The uninterrupted runs: the outputs every interrupted one must match, and their durations.
  const t = await qlora(['train', trainConfig(ref.train, false)]);
  const m = await qlora(['merge', '--base', model, '--adapter', ref.train, '--out', ref.merged, '--dtype', 'float32']);
  const q = await qlora(['quantize', '--model', model, '--out', ref.quant, '--double-quant']);
  for (const r of [t, m, q]) expect(r.code, r.err).toBe(0);
  ms.train = t.ms;
  ms.merge = m.ms;
  ms.quantize = q.ms;
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Kills one command `kills` times at seeded moments, checking after each; then lets it finish. */
async function series(name: keyof typeof ms, kills: number, args: () => string[], check: () => Promise<void>): Promise<number> {
  let done = 0;
  for (let attempt = 0; done < kills && attempt < kills * 3; attempt++) {
    const at = Math.round(ms[name] * (0.05 + 0.95 * rng.next()));
    const r = await qlora(args(), at);
    log.push(`${name}@${at}ms${r.killed ? '' : `(ended ${r.code})`}`);
    if (!r.killed) {
      expect(r.code, r.err).toBe(0);
      // The next moments spread over a run like this one (a resumed run can be much shorter).
      ms[name] = r.ms;
    } else done++;
    await check();
  }
  const r = await qlora(args());
  expect(r.code, r.err).toBe(0);
  return done;
}

describe('SIGKILL at seeded random moments', () => {
  it('train, merge and quantize: 30+ kills; complete-looking folders equal the uninterrupted output; resume ends byte-identical', async () => {
    const out = join(dir, 'train');
    const checkTrain = async () => {
      if (!existsSync(out)) return;
      for (const ck of readdirSync(out).filter((n) => /^checkpoint-\d+$/.test(n))) {
        const d = join(out, ck);
        await loads(d);
        // trainer_state.json holds timings (tokens per second); the weights and moments must match.
        sameFolder(d, join(ref.train, ck), (f) => f.endsWith('.safetensors') || f === 'adapter_config.json');
        expect(JSON.parse(readFileSync(join(d, 'trainer_state.json'), 'utf8')).global_step).toBe(Number(ck.split('-')[1]));
      }
      if (existsSync(join(out, 'adapter_config.json'))) {
        await loads(out);
        sameFolder(out, ref.train, (f) => !f.includes('/') && /^(adapter_|tokenizer)/.test(f));
      }
    };
    const hasCheckpoint = () => existsSync(out) && readdirSync(out).some((n) => /^checkpoint-\d+$/.test(n));
    const trainKills = await series('train', 16, () => ['train', trainConfig(out, hasCheckpoint())], checkTrain);
    await checkTrain();
    sameFolder(out, ref.train, (f) => f.endsWith('.safetensors') || f.endsWith('adapter_config.json') || f.startsWith('tokenizer'));
    noLeftovers(out);

    const merged = join(dir, 'merged');
    const checkMerged = async () => {
      if (existsSync(join(merged, 'config.json'))) {
        await loads(merged);
        sameFolder(merged, ref.merged);
      }
    };
    const mergeKills = await series('merge', 8, () => ['merge', '--base', model, '--adapter', ref.train, '--out', merged, '--dtype', 'float32'], checkMerged);
    sameFolder(merged, ref.merged);
    noLeftovers(merged);

    const q4 = join(dir, 'q4');
    const checkQ4 = async () => {
      if (existsSync(join(q4, 'config.json'))) {
        await loads(q4);
        sameFolder(q4, ref.quant);
      }
    };
    const quantKills = await series('quantize', 8, () => ['quantize', '--model', model, '--out', q4, '--double-quant'], checkQ4);
    sameFolder(q4, ref.quant);
    noLeftovers(q4);

    expect(trainKills + mergeKills + quantKills, log.join(', ')).toBeGreaterThanOrEqual(30);
  }, 400_000);
});
