import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValueError, getDevice, tensor, type QDevice } from '@q/core';
import { quantizeNF4 } from '../quantize';
import { dequantizeNF4 } from '../dequantize';
import { roundToFloat16 } from '../origin-dtype';
import { bitsPerParameter } from '../packed-view';
import type { QuantizedTensor } from '../quantized-tensor';
import type { QuantizeOptions } from '../quantize-options';
import { Nf4Weight } from './nf4-weight';
import { quantizeOnGpu } from './quantize-gpu';
import { dequantizeOnGpu } from './dequantize-gpu';
import { adversarial, normalData } from './test-data';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Every field of two quantized tensors, float arrays compared bit for bit (-0 included). */
function expectSame(got: QuantizedTensor, want: QuantizedTensor): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  expect(Array.from(got.packed)).toEqual(Array.from(want.packed));
  expect(got.doubleQuant).toBe(want.doubleQuant);
  if (got.doubleQuant && want.doubleQuant) {
    expect(Array.from(got.absmax)).toEqual(Array.from(want.absmax));
    expect(bits(got.nestedAbsmax)).toEqual(bits(want.nestedAbsmax));
    expect(bits(got.nestedQuantMap)).toEqual(bits(want.nestedQuantMap));
    expect(got.offset).toBe(want.offset);
  } else expect(bits(got.absmax as Float32Array)).toEqual(bits(want.absmax as Float32Array));
}

async function gpuVsCpu(data: Float32Array, shape: number[], o: Omit<QuantizeOptions, 'shape'>): Promise<void> {
  const want = quantizeNF4(data, { ...o, shape });
  const x = tensor(data, shape);
  const w = await quantizeOnGpu(x, o);
  x.release();
  expectSame(await w.toQuantized(), want);
  // Dequantization on the GPU: the CPU's values bit for bit in f32, rounded to nearest in f16.
  const d32 = dequantizeOnGpu(w, 'f32');
  const d16 = dequantizeOnGpu(w, 'f16');
  const ref = dequantizeNF4(want);
  expect(bits((await d32.read()) as Float32Array)).toEqual(bits(ref));
  expect(bits((await d16.read()) as Float32Array)).toEqual(bits(ref.map(roundToFloat16)));
  for (const t of [d32, d16]) t.release();
  w.release();
}

describe('quantizeOnGpu equals quantizeNF4 bit for bit', () => {
  it('random normal weights, NF4 and FP4', async () => {
    await gpuVsCpu(normalData(37 * 96, 1), [37, 96], { blocksize: 64 });
    await gpuVsCpu(normalData(37 * 96, 2, 0.02), [37, 96], { blocksize: 64, quantType: 'fp4' });
  });
  it('adversarial blocks: zeros, constants, huge, subnormal, mixed magnitudes, code edges', async () => {
    for (const quantType of ['nf4', 'fp4'] as const) {
      await gpuVsCpu(adversarial(64 * 18, 64), [18, 64], { quantType });
      await gpuVsCpu(adversarial(32 * 18, 32), [32 * 18], { quantType, blocksize: 32 });
    }
  });
  it('sizes that are not a multiple of the blocksize, odd sizes, tiny tensors', async () => {
    for (const n of [1, 3, 8, 9, 777, 1000]) await gpuVsCpu(adversarial(n, 128, n), [n], { blocksize: 128 });
    await gpuVsCpu(normalData(5000, 3), [5000], { blocksize: 4096 });
  });
  it('double quantization (nested absmax from the GPU absmax, on the host)', async () => {
    await gpuVsCpu(adversarial(64 * 300 + 5, 64), [64 * 300 + 5], { doubleQuant: true });
    await gpuVsCpu(normalData(64 * 600, 4), [600, 64], { doubleQuant: true, quantType: 'fp4' });
  });
  it('rounds to the origin dtype first (bfloat16, float16) and takes f16 tensors', async () => {
    const d = adversarial(64 * 9, 64, 5).map((v) => (Math.abs(v) > 6e4 ? 6e4 : v));
    await gpuVsCpu(d, [9, 64], { dtype: 'bfloat16' });
    await gpuVsCpu(d, [9, 64], { dtype: 'float16' });
    const h = d.map(roundToFloat16);
    const x = tensor(h, [9, 64], { dtype: 'f16' });
    const w = await quantizeOnGpu(x);
    x.release();
    expectSame(await w.toQuantized(), quantizeNF4(h, { shape: [9, 64], dtype: 'float16' }));
    w.release();
  });
  it('names the first non-finite element and frees what it allocated', async () => {
    const before = dev.memory().liveBuffers;
    const d = normalData(300, 6);
    d[200] = NaN;
    d[250] = Infinity;
    const x = tensor(d, [300]);
    await expect(quantizeOnGpu(x)).rejects.toThrow(ValueError);
    await expect(quantizeOnGpu(x)).rejects.toThrow(/element 200 /);
    x.release();
    expect(dev.memory().liveBuffers).toBe(before);
  });
});

describe('Nf4Weight', () => {
  it('uploads a double-quantized tensor and decodes its absmax exactly on the GPU', async () => {
    const q = quantizeNF4(adversarial(64 * 520, 64, 9), { shape: [520, 64], doubleQuant: true });
    const w = Nf4Weight.upload(q);
    const d = dequantizeOnGpu(w);
    expect(bits((await d.read()) as Float32Array)).toEqual(bits(dequantizeNF4(q)));
    d.release();
    expectSame(await w.toQuantized(), q);
    w.release();
  });
  it('accounts bytes and bits per parameter honestly, and releases everything', async () => {
    const before = dev.memory().liveBuffers;
    const data = normalData(128 * 256, 8);
    const plain = Nf4Weight.upload(quantizeNF4(data, { shape: [128, 256] }));
    const dq = Nf4Weight.upload(quantizeNF4(data, { shape: [128, 256], doubleQuant: true }));
    expect(plain.bitsPerParameter).toBe(4.5);
    expect(dq.bitsPerParameter).toBeCloseTo(bitsPerParameter(quantizeNF4(data, { doubleQuant: true })), 12);
    expect(dq.bitsPerParameter).toBeLessThan(4.13);
    // codes n/2 + absmax 4 per block + 64-byte code table; nested: 1 byte per block + 4 per 256 + 1 KiB map.
    expect(plain.bytes).toBe(128 * 128 + 512 * 4 + 64);
    expect(dq.bytes).toBe(128 * 128 + 512 + 2 * 4 + 1024 + 64);
    plain.release();
    dq.release();
    expect(dev.memory().liveBuffers).toBe(before);
    expect(() => dequantizeOnGpu(dq)).toThrow(/after release/);
  });
});
