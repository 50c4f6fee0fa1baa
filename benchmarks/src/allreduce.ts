/**
 * The gradient all-reduce of data-parallel training (@q/sft's MPI communicator: Open MPI through
 * koffi, MPI_Allreduce in place, f32 sum) at the sizes a training step sends, plus a sweep to fit
 * latency + bytes / bandwidth. Run under mpirun; rank 0 prints a table and writes JSON:
 *
 *   node benchmarks/scripts/run.mjs --bundle-only benchmarks/dist/allreduce.mjs allreduce
 *   mpirun -np 2 node benchmarks/dist/allreduce.mjs --json benchmarks/results/allreduce-<host>.json
 *
 * Each size: every rank fills its buffer with rank + 1 and the sum is checked; 3 warm-up calls,
 * then 40, 12 or 5 timed calls by size (each after a barrier); median and min are reported.
 * Options: --json PATH, --max-floats N (the sweep's largest buffer, default 2^27 = 512 MiB).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cpus, hostname, loadavg } from 'node:os';
import { checkpointLayout } from '@q/model';
import { openWorld } from '@q/sft';
import { qwen05Config } from './qwen-shape';

const argv = process.argv.slice(2);
const opt = (k: string) => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : undefined);
const comm = await openWorld();
const cfg = qwen05Config();
const H = cfg.hiddenSize;
const kv = cfg.numKeyValueHeads * (H / cfg.numAttentionHeads);
const I = cfg.intermediateSize;
const L = cfg.numHiddenLayers;
// LoRA A [r, in] and B [out, r] per adapted projection.
const lora = (r: number, shapes: [number, number][]) => L * shapes.reduce((a, [i, o]) => a + r * (i + o), 0);
const qkv: [number, number][] = [[H, H], [H, kv], [H, kv]];
const allLinear: [number, number][] = [...qkv, [H, H], [H, I], [H, I], [I, H]];
const full = checkpointLayout(cfg).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
const workloads = [
  { name: 'LoRA r=64 q,k,v (seed settings)', floats: lora(64, qkv) },
  { name: 'LoRA r=16 all-linear', floats: lora(16, allLinear) },
  { name: 'LoRA r=64 all-linear', floats: lora(64, allLinear) },
  { name: 'full fine-tuning Qwen2.5-0.5B', floats: full },
];
const maxFloats = Number(opt('--max-floats') ?? 2 ** 27);
const sweep = [2 ** 10, 2 ** 14, 2 ** 18, 2 ** 20, 2 ** 22, 2 ** 24, 2 ** 26, 2 ** 27].filter((n) => n <= maxFloats);

function measure(n: number, iters = n <= 2 ** 20 ? 40 : n <= 2 ** 24 ? 12 : 5): { floats: number; bytes: number; iters: number; medianMs: number; minMs: number; busGBs: number } {
  const buf = new Float32Array(n);
  const want = (comm.size * (comm.size + 1)) / 2;
  const times: number[] = [];
  // A fixed count per size: every rank must make the same calls, or the barriers would not pair up.
  for (let i = 0; i < 3 + iters; i++) {
    buf.fill(comm.rank + 1);
    comm.barrier();
    const t0 = performance.now();
    comm.allreduceSum(buf);
    const ms = performance.now() - t0;
    if (buf[0] !== want || buf[n - 1] !== want) comm.abort(1, `allreduce of ${n} floats: got ${buf[0]}, want ${want}`);
    if (i >= 3) times.push(ms);
  }
  times.sort((a, b) => a - b);
  const medianMs = times[Math.floor(times.length / 2)]!;
  // Bus bandwidth as NCCL reports it: 2 (n - 1) / n × bytes / time (a ring all-reduce's traffic).
  const busGBs = ((2 * (comm.size - 1)) / comm.size) * (n * 4) / (medianMs / 1000) / 1e9;
  return { floats: n, bytes: n * 4, iters: times.length, medianMs, minMs: times[0]!, busGBs };
}

const sweepRows = sweep.map((n) => measure(n));
const rows = workloads.filter((w) => w.floats <= maxFloats).map((w) => ({ ...w, ...measure(w.floats, 30) }));
// time = latency + bytes / bandwidth. The machine this ran on may be shared: a call then waits
// whenever its peer is descheduled, and medians measure the scheduler more than MPI. The fit takes
// the fastest call of each size: latency from the smallest buffer, bandwidth as the best
// bytes / time over buffers of >= 1 MiB (a call during which both ranks kept their cores).
const latencyUs = sweepRows[0]!.minMs * 1e3;
const big = sweepRows.filter((r) => r.bytes >= 2 ** 20);
const algGBs = Math.max(...big.map((r) => r.bytes / ((r.minMs - latencyUs / 1e3) / 1e3) / 1e9));
const fit = { latencyUs, algGBs, from: 'latency: fastest call at 1024 floats; bandwidth: best bytes/time over buffers >= 1 MiB' };
const predicted = workloads.map((w) => ({ name: w.name, floats: w.floats, bytes: w.floats * 4, modelMs: latencyUs / 1e3 + (w.floats * 4) / (algGBs * 1e9) * 1e3 }));

if (comm.rank === 0) {
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  console.log(`MPI_Allreduce (f32 sum, in place), ${comm.size} ranks on ${hostname()} (${cpus().length} cores: ${cpus()[0]?.model ?? '?'}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  console.log('floats       MiB      median ms  min ms    bus GB/s');
  for (const r of sweepRows) console.log(`${String(r.floats).padEnd(12)} ${mib(r.bytes).padStart(8)} ${r.medianMs.toFixed(3).padStart(10)} ${r.minMs.toFixed(3).padStart(8)} ${r.busGBs.toFixed(2).padStart(10)}`);
  for (const r of rows) console.log(`${r.name}: ${r.floats} floats (${mib(r.bytes)} MiB): median ${r.medianMs.toFixed(2)} ms, min ${r.minMs.toFixed(2)} ms`);
  console.log(`fit (minima): ${fit.latencyUs.toFixed(1)} us + bytes / ${fit.algGBs.toFixed(2)} GB/s`);
  for (const p of predicted) console.log(`  model ${p.name}: ${p.modelMs.toFixed(2)} ms`);
  const out = opt('--json');
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify({ benchmark: 'allreduce', backend: comm.backend, ranks: comm.size, host: hostname(), cores: cpus().length, cpu: cpus()[0]?.model, date: new Date().toISOString(), loadAverage: loadavg(), sweep: sweepRows, workloads: rows, fit, predicted }, null, 2)}\n`,
    );
    console.log(`wrote ${out}`);
  }
}
