// The decode GEMV (src/decode/gemv.ts) against a float64 CPU reference: f32, f16 and NF4 weights,
// K not a multiple of the vector width, odd N, batches above one and above one workgroup's rows,
// RMSNorm in the kernel and from `rs`, bias / residual / SwiGLU / unmerged-LoRA epilogues, with the
// subgroup reduction and with the workgroup-memory fallback it replaces on devices without subgroups.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16, getDevice, type QDevice } from '@q/core';
import { gemvSource, type GemvSpec } from '../src/decode/gemv';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

/** Deterministic values in [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

interface Weight {
  /** What the kernel binds (f32 values, f16 bits, or NF4 codes). */
  data: ArrayBufferView;
  am?: Float32Array;
  /** The weight as the kernel sees it, dequantized: [N, K]. */
  dense: Float64Array;
}

function makeWeight(fmt: GemvSpec['fmt'], N: number, K: number, seed: number, bs: number, qm: Float32Array): Weight {
  const v = rand(N * K, seed);
  if (fmt === 'f32') return { data: v, dense: Float64Array.from(v) };
  if (fmt === 'f16') {
    const h = f32ToF16(v);
    return { data: h.length % 2 ? Uint16Array.from([...h, 0]) : h, dense: Float64Array.from(f16ToF32(h)) };
  }
  // NF4: random codes, 8 per u32 word; value j of a word sits in byte j >> 1, high nibble first.
  const codes = Uint32Array.from(rand((N * K) / 8, seed), (x) => Math.floor((x + 1) * 2 ** 31) >>> 0);
  const am = rand((N * K) / bs, seed + 1).map((x) => Math.abs(x) + 0.1);
  const dense = new Float64Array(N * K);
  for (let e = 0; e < N * K; e++) {
    const wd = codes[e >> 3]!;
    const p = e & 7;
    const nib = (wd >>> (8 * (p >> 1) + (p & 1 ? 0 : 4))) & 15;
    dense[e] = qm[nib]! * am[Math.floor(e / bs)]!;
  }
  return { data: codes, am, dense };
}

function buffer(data: ArrayBufferView, usage = 0x80 | 0x08 | 0x04): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const b = dev.gpu.createBuffer({ size, usage });
  dev.gpu.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
}

async function readF32(b: GPUBuffer, n: number): Promise<Float32Array> {
  const r = dev.gpu.createBuffer({ size: b.size, usage: 0x01 | 0x08 });
  const enc = dev.gpu.createCommandEncoder();
  enc.copyBufferToBuffer(b, 0, r, 0, b.size);
  dev.gpu.queue.submit([enc.finish()]);
  await r.mapAsync(0x01);
  const out = new Float32Array(r.getMappedRange().slice(0, n * 4));
  r.destroy();
  return out;
}

/** Runs one GEMV variant on random inputs and returns (got, want). */
async function run(spec: GemvSpec): Promise<{ got: Float32Array; want: Float64Array }> {
  const { B, K, N, fmt, mode } = spec;
  const bs = spec.blocksize ?? 64;
  const qm = rand(16, 99);
  const x = rand(B * K, 1);
  const nw = rand(K, 2).map((v) => v + 1.5);
  const w = makeWeight(fmt, N, K, 3, bs, qm);
  const w2 = mode === 'swiglu' ? makeWeight(fmt, N, K, 4, bs, qm) : null;
  const bias = rand(N, 5);
  const h0 = rand(B * N, 6);
  const S = spec.lora?.ends.length ?? 0;
  const r = spec.lora?.r ?? 0;
  const lu = rand(B * S * r, 7);
  const lb = rand(N * r, 8);
  // float64 reference
  const inv = Array.from({ length: B }, (_, b) => {
    let ss = 0;
    for (let k = 0; k < K; k++) ss += x[b * K + k]! ** 2;
    return spec.norm ? 1 / Math.sqrt(ss / K + spec.norm.eps) : 1;
  });
  const dot = (W: Float64Array, b: number, n: number) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += x[b * K + k]! * (spec.norm ? nw[k]! : 1) * W[n * K + k]!;
    return s * inv[b]!;
  };
  const want = new Float64Array(B * N);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      let v = dot(w.dense, b, n);
      if (spec.lora) {
        const seg = spec.lora.ends.findIndex((e) => n < e);
        for (let j = 0; j < r; j++) v += spec.lora.scales[seg]! * lb[n * r + j]! * lu[b * S * r + seg * r + j]!;
      }
      if (mode === 'bias') v += bias[n]!;
      if (mode === 'residual') v += h0[b * N + n]!;
      if (mode === 'swiglu') v = (v / (1 + Math.exp(-v))) * dot(w2!.dense, b, n);
      want[b * N + n] = v;
    }
  }
  const { wgsl, names, plan } = gemvSource(spec);
  const rs = Float32Array.from(inv);
  const bufs: Record<string, GPUBuffer> = {
    x: buffer(x), nw: buffer(nw), rs: buffer(rs), w: buffer(w.data), qm: buffer(qm), bias: buffer(bias),
    lu: buffer(lu), lb: buffer(lb), h: buffer(h0), y: buffer(new Float32Array(B * N)),
  };
  if (w.am) bufs.am = buffer(w.am);
  if (w2) bufs.w2 = buffer(w2.data);
  if (w2?.am) bufs.am2 = buffer(w2.am);
  const module = dev.gpu.createShaderModule({ code: wgsl });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) throw new Error(errors.map((m) => `${m.lineNum}: ${m.message}`).join('\n'));
  const pipeline = dev.gpu.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const group = dev.gpu.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: names.map((n, i) => ({ binding: i, resource: { buffer: bufs[n]! } })),
  });
  const enc = dev.gpu.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(...plan.grid);
  pass.end();
  dev.gpu.queue.submit([enc.finish()]);
  const got = await readF32(mode === 'residual' ? bufs.h! : bufs.y!, B * N);
  for (const b of Object.values(bufs)) b.destroy();
  return { got, want };
}

const cases: [string, Omit<GemvSpec, 'subgroups'>][] = [
  ['f32, K 37 (not a multiple of 4), odd N, 3 rows, in-kernel norm, bias', { B: 3, K: 37, N: 19, fmt: 'f32', norm: { eps: 1e-5 }, mode: 'bias' }],
  ['f16, K 52 (not a multiple of 8), store', { B: 1, K: 52, N: 23, fmt: 'f16', mode: 'store' }],
  ['f16, 6 rows, norm from rs, residual', { B: 6, K: 64, N: 300, fmt: 'f16', norm: { eps: 1e-6, pre: true }, mode: 'residual' }],
  ['f16, K 1000: many lanes per row (partials across subgroups)', { B: 1, K: 1000, N: 7, fmt: 'f16', mode: 'store' }],
  ['f32, 37 rows: two batch groups', { B: 37, K: 96, N: 33, fmt: 'f32', mode: 'store' }],
  ['NF4 (block 64), 2 rows, in-kernel norm, SwiGLU', { B: 2, K: 128, N: 45, fmt: 'nf4', blocksize: 64, norm: { eps: 1e-6 }, mode: 'swiglu' }],
  ['NF4 (block 32) + unmerged LoRA in three segments, bias', { B: 1, K: 96, N: 17, fmt: 'nf4', blocksize: 32, mode: 'bias', lora: { r: 5, ends: [8, 12, 17], scales: [0.5, 2, -1] } }],
  ['f16 SwiGLU, 5 rows, norm from rs', { B: 5, K: 40, N: 29, fmt: 'f16', norm: { eps: 1e-6, pre: true }, mode: 'swiglu' }],
];

describe.each([
  ['subgroups', true],
  ['workgroup memory', false],
])('decode GEMV, %s reduction', (_name, subgroups) => {
  it.each(cases)('%s', { timeout: 120_000 }, async (_what, spec) => {
    if (subgroups && !dev.info.subgroups) return;
    const { got, want } = await run({ ...spec, subgroups, subgroupMinSize: dev.info.subgroupMinSize || 4 });
    let worst = 0;
    let scale = 1;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    expect(worst / scale, `max |diff| ${worst} at scale ${scale}`).toBeLessThan(2e-5);
  });
});
