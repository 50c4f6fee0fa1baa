/**
 * Stress run of the GEMM template in one process: random sizes, dtypes (f16 on tensor cores where
 * the device has them, f32 on CUDA cores), transposes, batches and the fused NF4 linear, each
 * repeated in a loop, and every result checked. Dense products use integers in {-1, 0, 1} with
 * K <= 2048, so every exact result is representable (f16 too) and the check is exact: Freivalds'
 * test C·x == A·(B·x) with two random integer vectors x covers every output. NF4 results are
 * checked on 64 sampled outputs against float64 and must be finite everywhere.
 * Prints one JSON line; exits 2 on a wrong result. Run many of these in fresh processes:
 *
 *   for i in $(seq 50); do timeout 120 node dist/matmul-stress.mjs --seed $i; echo "rc=$?"; done
 */
import { parseArgs } from 'node:util';
import { getDevice, tensor, matmul, Rng, type DType } from '@q/core';
import { matmulSettings, tensorCoreTile, type MatmulTile } from '@q/core/kernel';
import { quantizeNF4 } from '../../packages/nf4/src/quantize';
import { dequantizeNF4 } from '../../packages/nf4/src/dequantize';
import { Nf4Weight, nf4Linear } from '../../packages/nf4/src/gpu-index';

const { values: opts } = parseArgs({
  options: { seed: { type: 'string', default: '1' }, cases: { type: 'string', default: '12' }, reps: { type: 'string', default: '20' }, max: { type: 'string', default: '2048' } },
});

const rng = new Rng(Number(opts.seed));
const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
const ints = (n: number) => Float32Array.from({ length: n }, () => Math.floor(rng.next() * 3) - 1);

/** Tensor-core tiles the stress also forces on f16 products (one subgroup per workgroup). */
const TC_SHAPES = [
  { FM: 4, FN: 4, BK: 32 },
  { FM: 4, FN: 4, BK: 16 },
  { FM: 4, FN: 4, BK: 64 },
  { FM: 2, FN: 4, BK: 32 },
  { FM: 4, FN: 2, BK: 32 },
  { FM: 2, FN: 2, BK: 32 },
];

async function denseCase(dtype: DType, max: number, reps: number, tile: MatmulTile | 'auto'): Promise<string | null> {
  matmulSettings.tile = tile;
  try {
    return await denseCheck(dtype, max, reps, tile);
  } finally {
    matmulSettings.tile = 'auto';
  }
}

async function denseCheck(dtype: DType, max: number, reps: number, tile: MatmulTile | 'auto'): Promise<string | null> {
  const dims = [1, 3, 16, 17, 64, 100, 128, 255, 256, 512, 1000, 1024, 2048, 4096].filter((d) => d <= max);
  const [M, N] = [pick(dims), pick(dims)];
  const K = Math.min(pick(dims), 2048);
  const [transA, transB] = [rng.next() < 0.3, rng.next() < 0.5];
  const batch = M * N * K <= 2 ** 27 && rng.next() < 0.3 ? 3 : 1;
  const ha = ints(batch * M * K);
  const hb = ints(batch * K * N);
  const a = tensor(ha, batch > 1 ? [batch, ...(transA ? [K, M] : [M, K])] : transA ? [K, M] : [M, K], { dtype });
  const b = tensor(hb, batch > 1 ? [batch, ...(transB ? [N, K] : [K, N])] : transB ? [N, K] : [K, N], { dtype });
  let c = matmul(a, b, { transA, transB });
  // A long loop of the same product, each result replacing the last: the queue stays busy.
  for (let r = 1; r < reps; r++) {
    c.release();
    c = matmul(a, b, { transA, transB });
  }
  const got = await c.read();
  [a, b, c].forEach((t) => t.release());
  const A = (z: number, m: number, k: number) => ha[z * M * K + (transA ? k * M + m : m * K + k)]!;
  const B = (z: number, k: number, n: number) => hb[z * K * N + (transB ? n * K + k : k * N + n)]!;
  for (let v = 0; v < 2; v++) {
    const x = Float64Array.from({ length: N }, () => Math.floor(rng.next() * 2001) - 1000);
    for (let z = 0; z < batch; z++) {
      const bx = new Float64Array(K);
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += B(z, k, n) * x[n]!;
        bx[k] = s;
      }
      for (let m = 0; m < M; m++) {
        let want = 0;
        for (let k = 0; k < K; k++) want += A(z, m, k) * bx[k]!;
        let have = 0;
        for (let n = 0; n < N; n++) have += got[z * M * N + m * N + n]! * x[n]!;
        if (have !== want) return `${JSON.stringify(tile)} ${dtype} ${batch}x[${M}x${K}${transA ? 'ᵀ' : ''}]·[${K}x${N}${transB ? 'ᵀ' : ''}] row ${m} of batch ${z}: C·x ${have} != A·(B·x) ${want}`;
      }
    }
  }
  return null;
}

async function nf4Case(dtype: DType, reps: number): Promise<string | null> {
  const [T, N, K] = [pick([1, 17, 256, 1024]), pick([128, 896, 1000, 4864]), pick([128, 896, 1000])];
  const q = quantizeNF4(Float32Array.from({ length: N * K }, () => rng.normal() * 0.05), { shape: [N, K] });
  const w = Nf4Weight.upload(q);
  const W = dequantizeNF4(q);
  const hx = Float32Array.from({ length: T * K }, () => Math.round(rng.normal() * 8) / 8);
  const x = tensor(hx, [T, K], { dtype });
  let y = nf4Linear(x, w);
  for (let r = 1; r < reps; r++) {
    y.release();
    y = nf4Linear(x, w);
  }
  const got = await y.read();
  [x, y].forEach((t) => t.release());
  w.release();
  for (let i = 0; i < got.length; i++) if (!Number.isFinite(got[i]!)) return `nf4 ${dtype} [${T}x${K}]·[${N}x${K}]ᵀ: output ${i} is ${got[i]}`;
  let err = 0;
  let ss = 0;
  for (let s = 0; s < 64; s++) {
    const m = Math.floor(rng.next() * T);
    const n = Math.floor(rng.next() * N);
    let ref = 0;
    for (let k = 0; k < K; k++) ref += hx[m * K + k]! * W[n * K + k]!;
    err = Math.max(err, Math.abs(got[m * N + n]! - ref));
    ss += ref * ref;
  }
  const rel = err / Math.sqrt(ss / 64 + 1e-30);
  // f16 activations and outputs (and f16-rounded weights on tensor cores): a few f16 ulps of rms.
  return rel > (dtype === 'f16' ? 2e-2 : 1e-4) ? `nf4 ${dtype} [${T}x${K}]·[${N}x${K}]ᵀ: sampled error ${rel} of rms` : null;
}

async function main(): Promise<void> {
  const dev = await getDevice();
  const t0 = performance.now();
  const dtypes: DType[] = dev.info.f16 ? ['f16', 'f32'] : ['f32'];
  const stats = { seed: Number(opts.seed), cases: 0, dense: 0, nf4: 0, failures: [] as string[] };
  for (let i = 0; i < Number(opts.cases); i++) {
    const dtype = pick(dtypes);
    const nf4 = rng.next() < 0.25;
    const tc = tensorCoreTile(dev.info);
    const tile: MatmulTile | 'auto' = dtype === 'f16' && tc && rng.next() < 0.5 ? { ...tc, ...pick(TC_SHAPES) } : 'auto';
    const bad = nf4 ? await nf4Case(dtype, Number(opts.reps)) : await denseCase(dtype, Number(opts.max), Number(opts.reps), tile);
    stats.cases++;
    if (nf4) stats.nf4++;
    else stats.dense++;
    if (bad) stats.failures.push(bad);
  }
  console.log(JSON.stringify({ ...stats, seconds: (performance.now() - t0) / 1e3, device: dev.info.description }));
  dev.dispose();
  process.exit(stats.failures.length ? 2 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
