// The GEMM template: store hooks (scale, bias, residual) and vec4 / scalar load hooks against
// float64, and the choice between tensor cores and CUDA cores (the fallback is what runs here on
// lavapipe, which has no subgroup matrices).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, type QDevice } from '../runtime';
import { tensor } from '../create';
import { backward } from '../autograd';
import { keep, tidy } from '../scope';
import { mul } from './elementwise';
import { sum } from './reduce';
import { launch } from '../wgsl';
import { Rng } from '../random';
import { DeviceError } from '../errors';
import type { DeviceInfo } from '../device';
import { denseLoad, gemmKernel, tileShape } from './matmul-template';
import { matmul, matmulSettings, splitsFor, tensorCoreTile, tensorCoreTileFor, tensorCoreShapes, useTensorCores, TILE_64 } from './matmul';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const rnd = (n: number, seed: number) => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
};

describe('GEMM template hooks', () => {
  // c = alpha · (a · bᵀ) + bias[col] + res[row, col]: the store hook of a fused linear epilogue.
  // K = 20 (vec4 loads along k), M = 37 and N = 45 (partial tiles on both axes).
  it.each([
    [37, 45, 20, true],
    [37, 45, 19, false],
  ])('scale + bias + residual store hook, [%i x %i], K %i (vec4 loads: %s)', async (M, N, K, vec) => {
    const [ha, hb, hbias, hres] = [rnd(M * K, 1), rnd(N * K, 2), rnd(N, 3), rnd(M * N, 4)];
    const alpha = 0.75;
    const k = gemmKernel({
      name: 'gemm_epilogue_test',
      bindings: [
        { name: 'a', dtype: 'f32', vec4: vec },
        { name: 'b', dtype: 'f32', vec4: vec },
        { name: 'bias', dtype: 'f32' },
        { name: 'res', dtype: 'f32' },
        { name: 'c', dtype: 'f32', access: 'read_write' },
      ],
      uniforms: [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['alpha', 'f32']],
      M: 'u.M',
      N: 'u.N',
      kEnd: 'u.K',
      a: denseLoad({ binding: 'a', dtype: 'f32', per: vec ? 4 : 1, along: 'k', index: 'gi * u.K + gk' }),
      b: denseLoad({ binding: 'b', dtype: 'f32', per: vec ? 4 : 1, along: 'k', index: 'gi * u.K + gk' }),
      store: (row, col, v) => `c[${row} * u.N + ${col}] = u.alpha * ${v} + bias[${col}] + res[${row} * u.N + ${col}];`,
      shared: 'f32',
      tile: { ...TILE_64, stages: 2 },
    });
    const ts = [tensor(ha, [M, K]), tensor(hb, [N, K]), tensor(hbias, [N]), tensor(hres, [M, N]), tensor(new Float32Array(M * N), [M, N])];
    const { BM, BN } = tileShape(TILE_64);
    launch(k, ts, [Math.ceil(N / BN), Math.ceil(M / BM)], [M, N, K, alpha]);
    const got = await ts[4]!.read();
    let err = 0;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let q = 0; q < K; q++) s += ha[m * K + q]! * hb[n * K + q]!;
        err = Math.max(err, Math.abs(got[m * N + n]! - (alpha * s + hbias[n]! + hres[m * N + n]!)));
      }
    expect(err).toBeLessThan(1e-4);
    ts.forEach((t) => t.release());
  });

  // Loads along m/n (transposed A, plain B) as vec4s and along k, single- and double-staged.
  it.each([
    [{ ...TILE_64, stages: 1 as const }, true],
    [{ ...TILE_64, stages: 2 as const }, false],
  ])('matmul with transposed A over %j, vec4 loads %s', async (tile, vec) => {
    const [M, N, K] = [36, 44, 40];
    const [ha, hb] = [rnd(K * M, 5), rnd(K * N, 6)];
    Object.assign(matmulSettings, { tile, vectorLoads: vec });
    try {
      const [a, b] = [tensor(ha, [K, M]), tensor(hb, [K, N])];
      const c = matmul(a, b, { transA: true });
      const got = await c.read();
      let err = 0;
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let q = 0; q < K; q++) s += ha[q * M + m]! * hb[q * N + n]!;
          err = Math.max(err, Math.abs(got[m * N + n]! - s));
        }
      expect(err).toBeLessThan(1e-4);
      [a, b, c].forEach((t) => t.release());
    } finally {
      Object.assign(matmulSettings, { tile: 'auto', vectorLoads: true });
    }
  });
});

describe('split-K', () => {
  // K split over workgroup layers (f32 partial products, summed, cast back): K = 200 over 3 splits
  // leaves a ragged last layer; f16 operands come back f16.
  it.each([
    ['f32', 3],
    ['f16', 3],
    ['f32', 7],
  ] as const)('%s operands, %i splits, x·Wᵀ [29 x 200] · [45 x 200]ᵀ', async (dtype, splits) => {
    const [M, N, K] = [29, 45, 200];
    const q = (v: Float32Array) => (dtype === 'f16' ? Float32Array.from(v, (x) => Math.fround(Math.round(x * 256) / 256)) : v);
    const [ha, hb] = [q(rnd(M * K, 7)), q(rnd(N * K, 8))];
    matmulSettings.splitK = splits;
    try {
      const [a, b] = [tensor(ha, [M, K], { dtype }), tensor(hb, [N, K], { dtype })];
      const c = matmul(a, b, { transB: true });
      expect(c.dtype).toBe(dtype);
      expect(c.shape).toEqual([M, N]);
      const got = await c.read();
      let err = 0;
      let scale = 0;
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += ha[m * K + k]! * hb[n * K + k]!;
          err = Math.max(err, Math.abs(got[m * N + n]! - s));
          scale = Math.max(scale, Math.abs(s));
        }
      // f32: summation order only; f16: one rounding of the output (the partials stay f32).
      expect(err / scale).toBeLessThan(dtype === 'f32' ? 1e-6 : 1e-3);
      [a, b, c].forEach((t) => t.release());
    } finally {
      matmulSettings.splitK = 'auto';
    }
  });

  it('batched, transposed A, split 4 ways: [3, 150, 21]ᵀ · [3, 150, 10] (attention dV = Pᵀ·dO)', async () => {
    const [nb, M, N, K] = [3, 21, 10, 150];
    const [ha, hb] = [rnd(nb * K * M, 9), rnd(nb * K * N, 10)];
    matmulSettings.splitK = 4;
    try {
      const [a, b] = [tensor(ha, [nb, K, M]), tensor(hb, [nb, K, N])];
      const c = matmul(a, b, { transA: true });
      expect(c.shape).toEqual([nb, M, N]);
      const got = await c.read();
      let err = 0;
      for (let z = 0; z < nb; z++)
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += ha[z * K * M + k * M + m]! * hb[z * K * N + k * N + n]!;
            err = Math.max(err, Math.abs(got[(z * M + m) * N + n]! - s));
          }
      expect(err).toBeLessThan(1e-4);
      [a, b, c].forEach((t) => t.release());
    } finally {
      matmulSettings.splitK = 'auto';
    }
  });

  it('splits only where the output leaves a GPU idle', () => {
    expect(splitsFor(16, 896, 32, false)).toBe(3);
    expect(splitsFor(14, 1024, 32, false)).toBe(4);
    expect(splitsFor(200, 4096, 32, false)).toBe(1);
    expect(splitsFor(16, 256, 32, false)).toBe(1);
    expect(splitsFor(16, 896, 16, true)).toBe(1);
    expect(splitsFor(4, 151936, 16, true)).toBe(64);
  });
});

describe('mixed dtypes (fp16 activations, f32 weights)', () => {
  it('matmul(x f16, W f32ᵀ): f16 output, dx f16 and dW f32 as the f32 product of the same values', async (ctx) => {
    if (!dev.info.f16) return ctx.skip();
    const [M, N, K] = [13, 6, 24];
    // Values exact in f16, so both runs multiply the same numbers.
    const q = (n: number, seed: number) => Float32Array.from(rnd(n, seed), (x) => Math.round(x * 32) / 32);
    const [hx, hw, hg] = [q(M * K, 11), q(N * K, 12), q(M * N, 13)];
    const run = async (xd: 'f16' | 'f32') => {
      const x = keep(tensor(hx, [M, K], { dtype: xd, requiresGrad: true }));
      const w = keep(tensor(hw, [N, K], { requiresGrad: true }));
      const y = keep(matmul(x, w, { transB: true }));
      const loss = keep(tidy(() => sum(mul(y, tensor(hg, [M, N], { dtype: xd })))));
      backward(loss);
      expect([y.dtype, x.grad!.dtype, w.grad!.dtype]).toEqual([xd, xd, 'f32']);
      const r = [await y.read(), await x.grad!.read(), await w.grad!.read()];
      for (const t of [x, w, y, loss, x.grad!, w.grad!]) t.release();
      return r;
    };
    const mixed = await run('f16');
    const full = await run('f32');
    mixed.forEach((m, i) => {
      const scale = Math.max(...full[i]!.map(Math.abs));
      m.forEach((v, j) => expect(Math.abs(v - full[i]![j]!) / scale).toBeLessThan(2e-3));
    });
  });
});

describe('tensor cores or CUDA cores', () => {
  const nvidia = (over: Partial<DeviceInfo> = {}): DeviceInfo => ({
    vendor: 'nvidia', architecture: '', description: '', features: ['shader-f16', 'chromium-experimental-subgroup-matrix'],
    limits: { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 40, maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024 },
    f16: true, subgroups: true, subgroupMatrix: true, timestamps: true, runtime: 'node', subgroupMinSize: 32, subgroupMaxSize: 32,
    // As the H200 reports them (f16 x f16 -> f16 / f32 in 16x16x16, 16x8x16, 16x8x8; int8 shapes).
    subgroupMatrixConfigs: [
      { componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 },
      { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 8, K: 8 },
      { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 },
      { componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 },
    ],
    ...over,
  });

  it('builds the tile from the largest f16 -> f32 shape, and from what other adapters report', () => {
    const large = tensorCoreTile(nvidia());
    const { BKx, ...shape } = tensorCoreShapes.large;
    expect(large).toMatchObject({ kind: 'tensor', TM: 16, TN: 16, TK: 16, SG: 32, ...shape, BK: 16 * BKx });
    expect(large && tileShape(large)).toMatchObject({ BM: 128, BN: 128, threads: 256 });
    // An Apple-like 8x8x8 f16 -> f32 shape: twice the fragments of 8x8, the same tile edges.
    const apple = tensorCoreTile(nvidia({ subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 8, N: 8, K: 8 }] }));
    expect(apple && tileShape(apple)).toMatchObject({ BM: 128, BN: 128, threads: 256 });
    // Without the subgroups feature (no subgroup_id): one subgroup per workgroup.
    const single = tensorCoreTile(nvidia({ subgroups: false }));
    expect(single && tileShape(single)).toMatchObject({ BM: 64, BN: 64, threads: 32 });
    // Few output tiles (a 1024 x 896 projection): the small tile keeps the GPU busy.
    expect(tensorCoreTileFor(nvidia(), 4096, 4096)).toEqual(large);
    const medium = tensorCoreTileFor(nvidia(), 2048, 896);
    expect(medium && tileShape(medium)).toMatchObject({ BM: 128, BN: 128, threads: 128 });
    const small = tensorCoreTileFor(nvidia(), 1024, 128);
    expect(small && tileShape(small)).toMatchObject({ BM: 64, BN: 64, threads: 128 });
  });

  it('falls back to CUDA cores without the feature, an f16 -> f32 shape, or one subgroup size', () => {
    expect(tensorCoreTile(nvidia({ subgroupMatrix: false }))).toBeNull();
    expect(tensorCoreTile(nvidia({ subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 }] }))).toBeNull();
    expect(tensorCoreTile(nvidia({ subgroupMinSize: 8, subgroupMaxSize: 32 }))).toBeNull();
    expect(tensorCoreTile(nvidia({ f16: false }))).toBeNull();
    // f32 operands never use them; 'off' turns them off where they exist.
    expect(useTensorCores('f32', nvidia())).toBeNull();
    const saved = matmulSettings.tensorCores;
    try {
      matmulSettings.tensorCores = 'off';
      expect(useTensorCores('f16', nvidia())).toBeNull();
      matmulSettings.tensorCores = 'auto';
      expect(useTensorCores('f16', nvidia())).not.toBeNull();
    } finally {
      matmulSettings.tensorCores = saved;
    }
  });

  it('this adapter: the choice follows its features, and forcing tensor cores where there are none is an error', async () => {
    const saved = matmulSettings.tensorCores;
    try {
      matmulSettings.tensorCores = 'auto';
      const tc = useTensorCores('f16', dev.info);
      expect(tc !== null).toBe(dev.info.subgroupMatrix && dev.info.subgroupMatrixConfigs.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32'));
      if (!tc) {
        matmulSettings.tensorCores = 'on';
        expect(() => useTensorCores('f16', dev.info)).toThrow(DeviceError);
        // Where f16 works, matmul on CUDA cores (the fallback) computes a product exactly.
        if (dev.info.f16) {
          matmulSettings.tensorCores = 'auto';
          const a = tensor([1, 2, 3, 4, 5, 6], [2, 3], { dtype: 'f16' });
          const b = tensor([1, 0, -1, 2, 0.5, 1], [3, 2], { dtype: 'f16' });
          const c = matmul(a, b);
          expect([...(await c.read())]).toEqual([0.5, 7, 2, 16]);
          [a, b, c].forEach((t) => t.release());
        }
      }
    } finally {
      matmulSettings.tensorCores = saved;
    }
  });
});
