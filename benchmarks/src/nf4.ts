/**
 * NF4 speed: GPU quantize / dequantize GB/s, and the fused 4-bit linear (forward y = x·Wᵀ and
 * backward dX = dY·W, decoding W tiles in shared memory) against core's dense matmul on the
 * dequantized weight, at Qwen2.5-0.5B's projection shapes, in f32 and f16 (where available).
 *
 *   node dist/nf4.mjs [--json path] [--tokens 1024] [--small] [--no-f16]
 *
 * --small (automatic on CPU adapters such as lavapipe): 64 tokens and a smaller quantize tensor,
 * so a run takes well under a minute there.
 */
import { parseArgs } from 'node:util';
import { getDevice, keep, matmul, randn, type DType, type QDevice, type Tensor } from '@q/core';
import { dequantizeOnGpu, nf4Linear, nf4LinearBackward, quantizeOnGpu } from '../../packages/nf4/src/gpu-index';
import { timeIt, printTable, adapterSlug, isCpuAdapter, writeJson, type Timing } from './harness';

const { values: opts } = parseArgs({
  options: {
    json: { type: 'string' },
    tokens: { type: 'string' },
    small: { type: 'boolean', default: false },
    'no-f16': { type: 'boolean', default: false },
  },
});

/** Qwen2.5-0.5B projections as [out, in]: q/o, k/v, gate/up, down. */
const SHAPES: [string, number, number][] = [
  ['q_proj/o_proj 896→896', 896, 896],
  ['k_proj/v_proj 896→128', 128, 896],
  ['gate/up 896→4864', 4864, 896],
  ['down 4864→896', 896, 4864],
];

interface Row {
  case: string;
  dtype: string;
  shape: string;
  wallMs: number;
  gpuMs: number | null;
  /** GB/s (quantize/dequantize) or TFLOP/s (linear), from GPU time where timestamps exist. */
  rate: number;
  unit: string;
  /** Fused / dense time for the same product (linear only). */
  vsDense?: number;
  /** max |fused − dense| / rms(dense) (linear only). */
  err?: number;
  kernels: Timing['kernels'];
}

const ms = (t: Timing) => t.gpuMs ?? t.wallMs;

async function rmsErr(a: Tensor, b: Tensor): Promise<number> {
  const [x, y] = [await a.read(), await b.read()];
  let e = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    e = Math.max(e, Math.abs(x[i]! - y[i]!));
    s += y[i]! * y[i]!;
  }
  return e / Math.sqrt(s / x.length);
}

/** quantizeOnGpu is async (it reads back a non-finite flag), so it is timed per awaited call. */
async function timeQuantize(dev: QDevice, x: Tensor, iters: number): Promise<Timing> {
  for (let i = 0; i < 2; i++) (await quantizeOnGpu(x)).release();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) (await quantizeOnGpu(x)).release();
  const wallMs = (performance.now() - t0) / iters;
  let gpuMs: number | null = null;
  let kernels: Timing['kernels'] = [];
  if (dev.startProfiling()) {
    for (let i = 0; i < iters; i++) (await quantizeOnGpu(x)).release();
    kernels = await dev.stopProfiling();
    gpuMs = kernels.filter((k) => k.name.startsWith('nf4_')).reduce((s, k) => s + k.ms, 0) / iters;
  }
  return { iters, wallMs, gpuMs, kernels };
}

async function main(): Promise<void> {
  const dev = await getDevice();
  const small = opts.small || isCpuAdapter(dev);
  const T = Number(opts.tokens ?? (small ? 64 : 1024));
  const dtypes: DType[] = dev.info.f16 && !opts['no-f16'] ? ['f32', 'f16'] : ['f32'];
  const rows: Row[] = [];

  // Quantize / dequantize: the gate/up weight (or a 1/8 slice of it with --small).
  const [qo, qi] = small ? [608, 896] : [4864, 896];
  const n = qo * qi;
  const xw = keep(randn([qo, qi], 1, { std: 0.02 }));
  const tq = await timeQuantize(dev, xw, small ? 3 : 20);
  // Bytes: f32 read, codes + absmax written.
  const qBytes = n * 4 + n / 2 + (n / 64) * 4;
  rows.push({ case: 'quantize', dtype: 'f32', shape: `${qo}x${qi}`, wallMs: tq.wallMs, gpuMs: tq.gpuMs, rate: qBytes / ms(tq) / 1e6, unit: 'GB/s', kernels: tq.kernels });
  const wq = await quantizeOnGpu(xw);
  for (const dt of dtypes) {
    const t = await timeIt(dev, () => void dequantizeOnGpu(wq, dt as 'f32' | 'f16'));
    const bytes = n / 2 + (n / 64) * 4 + n * (dt === 'f16' ? 2 : 4);
    rows.push({ case: 'dequantize', dtype: dt, shape: `${qo}x${qi}`, wallMs: t.wallMs, gpuMs: t.gpuMs, rate: bytes / ms(t) / 1e6, unit: 'GB/s', kernels: t.kernels });
  }
  wq.release();
  xw.release();

  // Linear layers: fused NF4 vs dense matmul on the dequantized weight (same shapes, same dtype).
  for (const [label, N, K] of SHAPES) {
    const w0 = keep(randn([N, K], 2, { std: 0.02 }));
    const w = await quantizeOnGpu(w0);
    w0.release();
    for (const dt of dtypes) {
      const dense = keep(dequantizeOnGpu(w, dt as 'f32' | 'f16'));
      const x = keep(randn([T, K], 3, { dtype: dt }));
      const gy = keep(randn([T, N], 4, { dtype: dt }));
      const flops = 2 * T * N * K;
      const pairs: [string, () => Tensor, () => Tensor][] = [
        ['forward', () => nf4Linear(x, w), () => matmul(x, dense, { transB: true })],
        ['backward dX', () => nf4LinearBackward(gy, w), () => matmul(gy, dense)],
      ];
      for (const [dir, fused, ref] of pairs) {
        const a = keep(fused());
        const b = keep(ref());
        const err = await rmsErr(a, b);
        a.release();
        b.release();
        const tf = await timeIt(dev, () => void fused());
        const td = await timeIt(dev, () => void ref());
        const shape = dir === 'forward' ? `${T}x${K}·(${N}x${K})ᵀ` : `${T}x${N}·${N}x${K}`;
        rows.push({ case: `dense ${dir} ${label}`, dtype: dt, shape, wallMs: td.wallMs, gpuMs: td.gpuMs, rate: flops / ms(td) / 1e9, unit: 'TFLOP/s', kernels: td.kernels });
        rows.push({ case: `nf4 ${dir} ${label}`, dtype: dt, shape, wallMs: tf.wallMs, gpuMs: tf.gpuMs, rate: flops / ms(tf) / 1e9, unit: 'TFLOP/s', vsDense: ms(tf) / ms(td), err, kernels: tf.kernels });
      }
      for (const t of [dense, x, gy]) t.release();
    }
    w.release();
  }

  printTable(
    rows.map((r) => ({
      case: r.case,
      dtype: r.dtype,
      shape: r.shape,
      'wall ms': r.wallMs,
      'gpu ms': r.gpuMs ?? NaN,
      rate: `${r.rate.toPrecision(3)} ${r.unit}`,
      'vs dense': r.vsDense ?? NaN,
      err: r.err ?? NaN,
    })),
  );
  const path = opts.json ?? `results/nf4-${adapterSlug(dev)}.json`;
  writeJson(path, { bench: 'nf4', date: new Date().toISOString(), device: dev.info, tokens: T, small, rows });
  console.log(`\nwrote ${path}`);
  dev.dispose();
}

await main();
