/**
 * Timing helpers shared by benchmarks: warm-up, adaptive iteration count, wall time around
 * dev.sync(), per-kernel GPU time from timestamp queries, a progress line, a table and JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { noGrad, tidy, Rng, type QDevice, type KernelTiming } from '@q/core';

export interface Timing {
  /** Iterations timed (after warm-up). */
  iters: number;
  /** Wall time per iteration, ms: dispatch + GPU work, measured around dev.sync(). */
  wallMs: number;
  /** GPU time per iteration from timestamp queries (sum over kernels), ms; null without them. */
  gpuMs: number | null;
  kernels: KernelTiming[];
}

export interface TimeOptions {
  warmup?: number;
  /** Aim for about this much timed work, ms. */
  targetMs?: number;
  minIters?: number;
  maxIters?: number;
}

/**
 * Times `fn` (which records GPU work; tensors it creates are released after each call).
 * The iteration count is chosen from one timed call so small and large cases both take ~targetMs.
 */
export async function timeIt(dev: QDevice, fn: () => void, o: TimeOptions = {}): Promise<Timing> {
  const run = () => noGrad(() => tidy(() => void fn()));
  for (let i = 0; i < (o.warmup ?? 2); i++) run();
  await dev.sync();
  let t0 = performance.now();
  run();
  await dev.sync();
  const once = performance.now() - t0;
  const iters = Math.max(o.minIters ?? 3, Math.min(o.maxIters ?? 50, Math.ceil((o.targetMs ?? 300) / Math.max(once, 1e-3))));
  t0 = performance.now();
  for (let i = 0; i < iters; i++) run();
  await dev.sync();
  const wallMs = (performance.now() - t0) / iters;
  // A second pass with timestamp queries: one compute pass per kernel, so it is kept separate
  // from the wall-clock pass it would slow down.
  let gpuMs: number | null = null;
  let kernels: KernelTiming[] = [];
  if (dev.startProfiling()) {
    for (let i = 0; i < iters; i++) run();
    kernels = await dev.stopProfiling();
    gpuMs = kernels.reduce((s, k) => s + k.ms, 0) / iters;
  }
  return { iters, wallMs, gpuMs, kernels };
}

/** A progress line on stderr (only drawn on a terminal, so logs of remote runs stay clean). */
export function progress(total: number): { tick(label: string): void; done(): void } {
  const bar = new SingleBar(
    { format: '{bar} {value}/{total} {label}', hideCursor: true, clearOnComplete: true, stream: process.stderr },
    Presets.shades_classic,
  );
  bar.start(total, 0, { label: '' });
  return {
    tick: (label) => bar.increment(1, { label }),
    done: () => bar.stop(),
  };
}

/** Prints rows as an aligned text table. */
export function printTable(rows: Record<string, string | number>[]): void {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? fmt(v) : (v ?? ''));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === 0 ? v.padEnd(width[i]!) : v.padStart(width[i]!))).join('  ');
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : a === 0 ? '0' : v.toPrecision(3);
}

/** A file-name-safe name of the adapter, e.g. "nvidia-hopper" or "mesa-software-llvmpipe". */
export function adapterSlug(dev: QDevice): string {
  const { vendor, architecture, description } = dev.info;
  const words = [vendor, architecture, description.split(/[\s:(]/)[0]].map((w) => (w ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '-'));
  return [...new Set(words.filter(Boolean))].join('-') || 'unknown';
}

/** CPU adapters (lavapipe, SwiftShader) get small sizes so a run takes under a minute. */
export function isCpuAdapter(dev: QDevice): boolean {
  return /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(`${dev.info.vendor} ${dev.info.architecture} ${dev.info.description}`);
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}

/** Max |got − ref| / rms(ref) over 64 sampled outputs of C = A·op(B) (B [K, N], or [N, K] with transB). */
export function sampledErr(got: Float32Array, ha: Float32Array, hb: Float32Array, M: number, N: number, K: number, transB: boolean): number {
  const rng = new Rng(7);
  let err = 0;
  let ss = 0;
  for (let s = 0; s < 64; s++) {
    const m = Math.floor(rng.next() * M);
    const n = Math.floor(rng.next() * N);
    let ref = 0;
    for (let k = 0; k < K; k++) ref += ha[m * K + k]! * (transB ? hb[n * K + k]! : hb[k * N + n]!);
    err = Math.max(err, Math.abs(got[m * N + n]! - ref));
    ss += ref * ref;
  }
  return err / Math.sqrt(ss / 64);
}
