/**
 * GEMM template speed: TFLOP/s of matmul at n³ in f16 (tensor cores where the device has subgroup
 * matrices, and CUDA cores) and f32, every kernel variant when --variants, and the fused NF4
 * linear (forward x·Wᵀ and dX = dY·W) against the dense matmul of the same shape and dtype. Every
 * case's result is checked: 64 sampled outputs against float64 (err = max |gpu − ref| / rms(ref)).
 *
 *   node dist/matmul.mjs [--json path] [--n 4096] [--variants] [--tokens 2048]
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { getDevice, tensor, keep, matmul, Rng, f32ToF16, f16ToF32, type DType, type QDevice, type Tensor } from '@q/core';
import { matmulSettings, tensorCoreTile, TILE_64, TILE_128, type MatmulTile } from '@q/core/kernel';
import { quantizeNF4 } from '../../packages/nf4/src/quantize';
import { dequantizeNF4 } from '../../packages/nf4/src/dequantize';
import { Nf4Weight, nf4Linear, nf4LinearBackward } from '../../packages/nf4/src/gpu-index';
import { nf4LinearSettings } from '../../packages/nf4/src/gpu/nf4-linear';
import { timeIt, printTable, adapterSlug, isCpuAdapter, sampledErr, writeJson, type Timing } from './harness';

const { values: opts } = parseArgs({
  options: {
    json: { type: 'string' },
    n: { type: 'string' },
    variants: { type: 'boolean', default: false },
    tokens: { type: 'string' },
    'no-nf4': { type: 'boolean', default: false },
    /** Tensor-core tile shapes on the square and the seed's linear-layer shapes, dense and NF4. */
    'tc-sweep': { type: 'boolean', default: false },
  },
});

interface Row {
  case: string;
  dtype: DType;
  shape: string;
  tile: string;
  tflops: number;
  tflopsWall: number;
  err: number;
  /** NF4 only: fused time / dense matmul time for the same product. */
  vsDense?: number;
  timing: Timing;
}

function hostRandn(n: number, seed: number, dtype: DType): Float32Array {
  const rng = new Rng(seed);
  const d = Float32Array.from({ length: n }, () => rng.normal());
  return dtype === 'f16' ? f16ToF32(f32ToF16(d)) : d;
}

const describeTile = (t: MatmulTile | 'auto') =>
  t === 'auto' ? 'auto' : t.kind === 'cuda' ? `cuda ${t.BM}x${t.BN}${t.stages === 1 ? ' 1-stage' : ''}` : `tc ${t.SGM}x${t.SGN} sg, ${t.FM}x${t.FN} frags, BK ${t.BK}`;

const TIME = { warmup: 10, targetMs: 400, maxIters: 200 };

async function matmulRow(dev: QDevice, M: number, N: number, K: number, dtype: DType, transB: boolean, tile: MatmulTile | 'auto', f16Fma = true, vectorLoads = true, tensorCores: 'auto' | 'off' = 'auto'): Promise<Row> {
  const ha = hostRandn(M * K, 1, dtype);
  const hb = hostRandn(K * N, 2, dtype);
  const a = keep(tensor(ha, [M, K], { dtype }));
  const b = keep(tensor(hb, transB ? [N, K] : [K, N], { dtype }));
  Object.assign(matmulSettings, { tile, f16Fma, vectorLoads, tensorCores });
  try {
    const c = matmul(a, b, { transB });
    const err = sampledErr((await c.read()) as Float32Array, ha, hb, M, N, K, transB);
    c.release();
    const timing = await timeIt(dev, () => void matmul(a, b, { transB }), TIME);
    const kernelMs = timing.kernels.filter((k) => k.name.startsWith('matmul')).reduce((s, k) => s + k.ms, 0) / timing.iters;
    const flops = 2 * M * N * K;
    return {
      case: `matmul${transB ? ' x·Wᵀ' : ''}`,
      dtype,
      shape: `${M}x${K}x${N}`,
      tile: describeTile(tile) + (tile !== 'auto' && tile.kind === 'cuda' && dtype === 'f16' ? (f16Fma ? ' fma16' : ' f32-mul') : '') + (vectorLoads ? '' : ' scalar loads') + (tensorCores === 'off' ? ' (tensor cores off)' : ''),
      tflops: flops / (kernelMs || timing.wallMs) / 1e9,
      tflopsWall: flops / timing.wallMs / 1e9,
      err,
      timing,
    };
  } finally {
    Object.assign(matmulSettings, { tile: 'auto', f16Fma: true, vectorLoads: true, tensorCores: 'auto' });
    a.release();
    b.release();
  }
}

/** The fused NF4 linear (fwd: x [T, K]·Wᵀ, bwd: dY [T, N]·W) against the dense matmul on the dequantized W. */
async function nf4Rows(dev: QDevice, T: number, N: number, K: number, dtype: DType, tensorCores: 'auto' | 'off' = 'auto', tile: MatmulTile | 'auto' = 'auto'): Promise<Row[]> {
  matmulSettings.tensorCores = tensorCores;
  nf4LinearSettings.tensorCores = tensorCores === 'auto';
  // A forced tile applies to the fused kernel and to the dense matmul it is compared with.
  nf4LinearSettings.tile = tile;
  matmulSettings.tile = tile;
  try {
    const rows = await nf4Measure(dev, T, N, K, dtype, tensorCores);
    if (tile !== 'auto') for (const r of rows) r.tile = describeTile(tile);
    return rows;
  } finally {
    matmulSettings.tensorCores = 'auto';
    matmulSettings.tile = 'auto';
    nf4LinearSettings.tensorCores = true;
    nf4LinearSettings.tile = 'auto';
  }
}

async function nf4Measure(dev: QDevice, T: number, N: number, K: number, dtype: DType, tensorCores: 'auto' | 'off'): Promise<Row[]> {
  const rows: Row[] = [];
  const q = quantizeNF4(hostRandn(N * K, 3, 'f32').map((v) => v * 0.05), { shape: [N, K] });
  const w = Nf4Weight.upload(q);
  const W = dequantizeNF4(q);
  const hw = dtype === 'f16' ? f16ToF32(f32ToF16(Float32Array.from(W))) : Float32Array.from(W);
  const dense = keep(tensor(hw, [N, K], { dtype }));
  for (const mode of ['fwd', 'bwd'] as const) {
    const [R, C] = mode === 'fwd' ? [K, N] : [N, K];
    const hx = hostRandn(T * R, 4, dtype);
    const x = keep(tensor(hx, [T, R], { dtype }));
    const run = () => (mode === 'fwd' ? nf4Linear(x, w) : nf4LinearBackward(x, w));
    const y = run();
    // Reference: x · Wᵀ (fwd) or x · W (bwd) in float64 from the dequantized weight.
    const err = sampledErr((await y.read()) as Float32Array, hx, mode === 'fwd' ? Float32Array.from(W) : Float32Array.from(W), T, C, R, mode === 'fwd');
    y.release();
    const timing = await timeIt(dev, () => void run(), TIME);
    const fusedMs = timing.kernels.filter((k) => k.name.startsWith('nf4_linear')).reduce((s, k) => s + k.ms, 0) / timing.iters || timing.wallMs;
    const denseT = await timeIt(dev, () => void matmul(x, dense, { transB: mode === 'fwd' }), TIME);
    const denseMs = denseT.kernels.filter((k) => k.name.startsWith('matmul')).reduce((s, k) => s + k.ms, 0) / denseT.iters || denseT.wallMs;
    const flops = 2 * T * R * C;
    rows.push({
      case: `nf4Linear ${mode}`,
      dtype,
      shape: `${T}x${R}x${C}`,
      tile: tensorCores === 'off' ? 'tensor cores off' : 'tensor cores where present',
      tflops: flops / fusedMs / 1e9,
      tflopsWall: flops / timing.wallMs / 1e9,
      err,
      vsDense: fusedMs / denseMs,
      timing,
    });
    x.release();
  }
  dense.release();
  w.release();
  return rows;
}

async function main(): Promise<void> {
  const dev = await getDevice();
  const cpu = isCpuAdapter(dev);
  const n = Number(opts.n ?? (cpu ? 256 : 4096));
  const T = Number(opts.tokens ?? (cpu ? 64 : 2048));
  const { vendor, architecture, description } = dev.info;
  const tc = tensorCoreTile(dev.info);
  console.log(`adapter: ${vendor} ${architecture} ${description}; f16 ${dev.info.f16}; subgroup matrix ${dev.info.subgroupMatrix} ${JSON.stringify(dev.info.subgroupMatrixConfigs)}; tensor-core tile ${tc ? describeTile(tc) : 'none'}`);
  const rows: Row[] = [];
  const path = opts.json ?? `${existsSync('benchmarks') ? 'benchmarks/' : ''}results/matmul-${adapterSlug(dev)}.json`;
  // Written after every case, so a run cut short keeps what it measured.
  const save = () =>
    writeJson(path, {
      benchmark: 'matmul',
      date: new Date().toISOString(),
      node: process.version,
      device: dev.info,
      notes: 'TFLOP/s from the kernels\' GPU time (timestamp queries), wall from time around dev.sync(); err = max |gpu − float64| / rms over 64 sampled outputs; vsDense = fused NF4 time / dense matmul time (same dtype and tensor-core setting, dequantized W)',
      results: rows.map(({ timing, ...r }) => ({ ...r, iters: timing.iters, wallMs: timing.wallMs, gpuMs: timing.gpuMs, kernels: timing.kernels })),
    });
  const add = async (p: Promise<Row | Row[]>) => {
    try {
      const r = await p;
      rows.push(...(Array.isArray(r) ? r : [r]));
      const last = rows[rows.length - 1]!;
      save();
      console.log(`${last.case} ${last.dtype} ${last.shape} [${last.tile}]: ${last.tflops.toFixed(1)} TFLOP/s (wall ${last.tflopsWall.toFixed(1)}), err ${last.err.toExponential(2)}${last.vsDense ? `, ${last.vsDense.toFixed(2)}x dense` : ''}`);
    } catch (e) {
      console.log(`FAILED: ${(e as Error).message.slice(0, 400)}`);
    }
  };
  const f16 = dev.info.f16;
  if (opts['tc-sweep'] && tc) {
    const s = (SGM: number, SGN: number, FM: number, FN: number, BK: number): MatmulTile => ({ ...tc, SGM, SGN, FM, FN, BK });
    const shapes = [s(1, 1, 4, 4, 16), s(2, 2, 4, 4, 32), s(2, 2, 4, 4, 16), s(2, 4, 4, 2, 32), s(4, 2, 2, 4, 32), s(2, 2, 2, 4, 32), s(2, 2, 4, 2, 32), s(2, 2, 2, 2, 32), s(4, 4, 2, 2, 32), s(2, 2, 2, 2, 64)];
    for (const t of shapes) await add(matmulRow(dev, n, n, n, 'f16', false, t));
    // The seed's linear layers at 2 x 1024 tokens (x·Wᵀ): q/o, MLP up/gate, MLP down.
    for (const [N, K] of [[896, 896], [4864, 896], [896, 4864]] as const) {
      await add(matmulRow(dev, T, N, K, 'f16', true, 'auto', true, true, 'off'));
      for (const t of [s(1, 1, 4, 4, 16), s(2, 2, 4, 4, 32), s(2, 2, 2, 2, 32), s(2, 4, 4, 2, 32), s(4, 2, 2, 4, 32)]) await add(matmulRow(dev, T, N, K, 'f16', true, t));
      await add(matmulRow(dev, T, N, K, 'f16', true, 'auto'));
    }
    for (const t of ['auto', s(2, 2, 4, 4, 32), s(2, 2, 2, 2, 32), s(2, 4, 4, 2, 32)] as const) await add(nf4Rows(dev, T, 4864, 896, 'f16', 'auto', t));
    await add(nf4Rows(dev, T, 896, 4864, 'f16', 'auto', 'auto'));
    await add(nf4Rows(dev, T, 896, 896, 'f16', 'auto', 'auto'));
    await add(nf4Rows(dev, n, n, n, 'f16', 'auto', 'auto'));
    save();
    dev.dispose();
    return;
  }
  await add(matmulRow(dev, n, n, n, 'f32', false, 'auto'));
  if (f16) await add(matmulRow(dev, n, n, n, 'f16', false, 'auto'));
  if (f16 && tc) await add(matmulRow(dev, n, n, n, 'f16', false, 'auto', true, true, 'off'));
  if (opts.variants) {
    const one = { stages: 1 as const };
    for (const [t, vec] of [[TILE_128, true], [{ ...TILE_128, ...one }, true], [{ ...TILE_128, ...one }, false], [TILE_64, true], [{ ...TILE_64, ...one }, false]] as [MatmulTile, boolean][])
      await add(matmulRow(dev, n, n, n, 'f32', false, t, true, vec));
    if (f16) {
      await add(matmulRow(dev, n, n, n, 'f16', false, TILE_128, true));
      await add(matmulRow(dev, n, n, n, 'f16', false, TILE_64, true));
    }
    if (tc) {
      const shapes: Partial<typeof tc>[] = [
        { SGM: 1, SGN: 1, FM: 4, FN: 4, BK: 16 },
        { SGM: 1, SGN: 1, FM: 4, FN: 4, BK: 64 },
        { SGM: 1, SGN: 1, FM: 2, FN: 4, BK: 32 },
        { SGM: 1, SGN: 1, FM: 4, FN: 2, BK: 32 },
        { SGM: 1, SGN: 1, FM: 2, FN: 2, BK: 32 },
        { SGM: 1, SGN: 1, FM: 8, FN: 4, BK: 32 },
        { SGM: 2, SGN: 2, FM: 4, FN: 4, BK: 32 },
        { SGM: 2, SGN: 2, FM: 2, FN: 2, BK: 32 },
        { SGM: 2, SGN: 4, FM: 4, FN: 2, BK: 32 },
      ];
      for (const s of shapes) await add(matmulRow(dev, n, n, n, 'f16', false, { ...tc, ...s }));
      await add(matmulRow(dev, n, n, n, 'f16', false, tc, true, false));
    }
  }
  // Linear-layer shapes (Qwen2.5-0.5B MLP up-projection, x·Wᵀ).
  await add(matmulRow(dev, T, 4864, 896, 'f32', true, 'auto'));
  if (f16) await add(matmulRow(dev, T, 4864, 896, 'f16', true, 'auto'));
  if (f16 && tc) await add(matmulRow(dev, T, 4864, 896, 'f16', true, 'auto', true, true, 'off'));
  if (opts.variants) {
    await add(matmulRow(dev, T, 4864, 896, 'f32', true, { ...TILE_128, stages: 1 }, true, false));
    await add(matmulRow(dev, T, 4864, 896, 'f32', true, TILE_64, true, true));
    if (f16) await add(matmulRow(dev, T, 4864, 896, 'f16', true, TILE_64, true, true));
  }
  if (!opts['no-nf4']) {
    // f16 (tensor cores where present, and without them) at n³ and at the MLP shape; f32 at the MLP shape.
    if (f16) {
      await add(nf4Rows(dev, T, 4864, 896, 'f16'));
      if (tc) await add(nf4Rows(dev, T, 4864, 896, 'f16', 'off'));
    }
    await add(nf4Rows(dev, T, 4864, 896, 'f32'));
    if (f16) await add(nf4Rows(dev, cpu ? 64 : n, cpu ? 128 : n, cpu ? 128 : n, 'f16'));
  }
  printTable(rows.map((r) => ({ case: r.case, dtype: r.dtype, shape: r.shape, tile: r.tile, 'TFLOP/s': r.tflops, 'wall TFLOP/s': r.tflopsWall, err: r.err, 'vs dense': r.vsDense ?? NaN })));
  save();
  console.log(`wrote ${path}`);
  dev.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
