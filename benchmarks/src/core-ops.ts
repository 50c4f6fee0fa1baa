/**
 * Core op speed: matmul GFLOP/s at cube and linear-layer sizes (f32, and f16 where the device has
 * shader-f16) and GB/s of memory-bound ops (add, softmax, rmsNorm, crossEntropy) at model-like
 * shapes (Qwen2.5-0.5B: hidden 896, MLP 4864, 14 heads, vocab 151936).
 *
 *   node dist/core-ops.mjs [--json path] [--sizes 256,512] [--quick] [--no-f16]
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { getDevice, randn, tensor, keep, matmul, add, softmax, rmsNorm, crossEntropy, Rng, f32ToF16, f16ToF32, type Tensor, type DType, type QDevice } from '@q/core';
import { matmulSettings, TILE_64, TILE_128 } from '@q/core/kernel';
import { timeIt, progress, printTable, adapterSlug, isCpuAdapter, sampledErr, writeJson, type Timing } from './harness';

const { values: opts } = parseArgs({
  options: {
    json: { type: 'string' },
    sizes: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-f16': { type: 'boolean', default: false },
    variants: { type: 'boolean' },
  },
});

interface Case {
  name: string;
  dtype: DType;
  shape: string;
  /** Floating-point operations per call (matmul), or 0. */
  flops: number;
  /** Minimal bytes moved per call (inputs read once, outputs written once), or 0. */
  bytes: number;
  setup(): { run(): void; check?(): Promise<number>; release(): void };
}

interface Result extends Omit<Case, 'setup'>, Timing {
  gflops: number | null;
  gflopsGpu: number | null;
  gbps: number | null;
  /** Max |GPU − float64| / rms(reference) over sampled outputs (matmul only). */
  err: number | null;
}

/** Host values of a seeded randn tensor, rounded as the GPU stores them. */
function hostRandn(n: number, seed: number, dtype: DType): Float32Array {
  const rng = new Rng(seed);
  const d = Float32Array.from({ length: n }, () => rng.normal());
  return dtype === 'f16' ? f16ToF32(f32ToF16(d)) : d;
}

/** A forced matmul kernel variant (see matmulSettings in @q/core), or the automatic choice. */
interface Variant {
  label: string;
  tile: typeof matmulSettings.tile;
  f16Fma: boolean;
}
const AUTO: Variant = { label: '', tile: 'auto', f16Fma: true };

// a: [M, K], b: [K, N] (or [N, K] with transB) -> c: [M, N]
function matmulCase(M: number, N: number, K: number, dtype: DType, transB: boolean, label: string, v = AUTO): Case {
  return {
    name: `matmul ${label}${v.label ? ` ${v.label}` : ''}`,
    dtype,
    shape: `${M}x${K} · ${transB ? `(${N}x${K})ᵀ` : `${K}x${N}`}`,
    flops: 2 * M * N * K,
    bytes: 0,
    setup() {
      const ha = hostRandn(M * K, 1, dtype);
      const hb = hostRandn(K * N, 2, dtype);
      Object.assign(matmulSettings, { tile: v.tile, f16Fma: v.f16Fma });
      const a = keep(tensor(ha, [M, K], { dtype }));
      const b = keep(tensor(hb, transB ? [N, K] : [K, N], { dtype }));
      return {
        run: () => void matmul(a, b, { transB }),
        // Checks 64 sampled outputs against float64, so a fast kernel is also a right one.
        async check() {
          const c = matmul(a, b, { transB });
          const got = (await c.read()) as Float32Array;
          c.release();
          return sampledErr(got, ha, hb, M, N, K, transB);
        },
        release: () => {
          [a, b].forEach((t) => t.release());
          Object.assign(matmulSettings, { tile: AUTO.tile, f16Fma: AUTO.f16Fma });
        },
      };
    },
  };
}

function memCase(name: string, shape: number[], bytes: number, make: () => { inputs: Tensor[]; run(): void }): Case {
  return {
    name,
    dtype: 'f32',
    shape: shape.join('x'),
    flops: 0,
    bytes,
    setup() {
      const { inputs, run } = make();
      inputs.forEach(keep);
      return { run, release: () => inputs.forEach((t) => t.release()) };
    },
  };
}

function cases(dev: QDevice): Case[] {
  const small = opts.quick || isCpuAdapter(dev);
  const sizes = opts.sizes ? opts.sizes.split(',').map(Number) : small ? [128, 256, 512] : [256, 512, 1024, 2048, 4096];
  const dtypes: DType[] = dev.info.f16 && !opts['no-f16'] ? ['f32', 'f16'] : ['f32'];
  const T = small ? 256 : 2048; // tokens in a batch
  const [D, F, V, H] = [896, 4864, 151936, 14];
  const S = small ? 256 : 1024; // attention length for softmax
  const ceRows = small ? 32 : 512; // 512 x 151936 f32 is 311 MB
  const out: Case[] = [];
  for (const dtype of dtypes) {
    for (const n of sizes) out.push(matmulCase(n, n, n, dtype, false, `${n}³`));
    // Each kernel variant forced at the largest size, to see what the automatic choice leaves.
    if (opts.variants ?? !small) {
      const n = Math.max(...sizes);
      const vs: Variant[] = [
        { label: 't64', tile: TILE_64, f16Fma: true },
        { label: 't128', tile: TILE_128, f16Fma: true },
      ];
      if (dtype === 'f16') vs.push({ label: 't128 f32-mul', tile: TILE_128, f16Fma: false });
      for (const v of vs) out.push(matmulCase(n, n, n, dtype, false, `${n}³`, v));
    }
    // nn.Linear as the model runs it: x · Wᵀ (MLP up-projection).
    out.push(matmulCase(T, F, D, dtype, true, 'linear'));
  }
  out.push(
    memCase('add', [T, F], 3 * T * F * 4, () => {
      const [a, b] = [randn([T, F], 1), randn([T, F], 2)];
      return { inputs: [a, b], run: () => void add(a, b) };
    }),
    memCase('softmax', [H, S, S], 2 * H * S * S * 4, () => {
      const x = randn([H, S, S], 3);
      return { inputs: [x], run: () => void softmax(x) };
    }),
    memCase('rmsNorm', [T, D], (2 * T * D + D) * 4, () => {
      const [x, w] = [randn([T, D], 4), randn([D], 5)];
      return { inputs: [x, w], run: () => void rmsNorm(x, w) };
    }),
    memCase('crossEntropy', [ceRows, V], (ceRows * V + ceRows) * 4, () => {
      const x = randn([ceRows, V], 6);
      const rng = new Rng(8);
      const labels = tensor(Int32Array.from({ length: ceRows }, () => Math.floor(rng.next() * V)), [ceRows], { dtype: 'i32' });
      return { inputs: [x, labels], run: () => void crossEntropy(x, labels) };
    }),
  );
  return out;
}

async function main(): Promise<void> {
  const dev = await getDevice();
  const { vendor, architecture, description } = dev.info;
  console.log(`adapter: ${vendor} ${architecture} ${description} (${dev.info.runtime}); f16 ${dev.info.f16}, timestamps ${dev.info.timestamps}`);
  const list = cases(dev);
  const bar = progress(list.length);
  const results: Result[] = [];
  for (const c of list) {
    bar.tick(`${c.name} ${c.dtype} ${c.shape}`);
    const { run, check, release } = c.setup();
    const err = check ? await check() : null;
    const t = await timeIt(dev, run, { targetMs: isCpuAdapter(dev) ? 150 : 300 });
    release();
    const { setup: _, ...meta } = c;
    results.push({
      ...meta,
      ...t,
      gflops: c.flops ? c.flops / t.wallMs / 1e6 : null,
      gflopsGpu: c.flops && t.gpuMs ? c.flops / t.gpuMs / 1e6 : null,
      gbps: c.bytes ? c.bytes / (t.gpuMs ?? t.wallMs) / 1e6 : null,
      err,
    });
  }
  bar.done();
  printTable(
    results.map((r) => ({
      case: r.name,
      dtype: r.dtype,
      shape: r.shape,
      iters: r.iters,
      'wall ms': r.wallMs,
      'gpu ms': r.gpuMs ?? NaN,
      'GFLOP/s': r.gflops ?? NaN,
      'GFLOP/s gpu': r.gflopsGpu ?? NaN,
      'GB/s': r.gbps ?? NaN,
      err: r.err ?? NaN,
    })),
  );
  const path = opts.json ?? `${existsSync('benchmarks') ? 'benchmarks/' : ''}results/core-ops-${adapterSlug(dev)}.json`;
  writeJson(path, {
    benchmark: 'core-ops',
    date: new Date().toISOString(),
    node: process.version,
    device: dev.info,
    notes: 'GFLOP/s from wall time per call (dispatch + GPU, timed around dev.sync()); "gpu" from timestamp queries; GB/s counts inputs read once and outputs written once, over GPU time where timestamps exist',
    results,
  });
  console.log(`wrote ${path}`);
  dev.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
