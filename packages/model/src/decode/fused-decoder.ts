/**
 * Greedy decoding with few dispatches and no stall: per token, one command buffer of
 * 5 · layers + 3 dispatches (fused-kernels.ts) with pipelines and bind groups made once, the next
 * token chosen on the GPU (argmax after repetition penalty and min-new-tokens) and fed straight
 * to the next step's embedding gather, and the ids copied to mappable buffers that the host reads
 * while the GPU is already on later tokens (pipelined readback). The host stops submitting once
 * every row hit eos or a stop string; the few tokens in flight past that are discarded.
 *
 * It continues from a prefilled KV cache (the model's own forward wrote it) and works for dense
 * f32 (`Linear`) or NF4 (`QuantLinear`) projections, with unmerged LoRA adapters on q/k/v read in
 * the same pass; `fusedUnsupported` says why a model cannot use it.
 */
// h: [B, D]; qkv: [B, (Hq + 2·Hkv)·Dh]; a: [B, Hq·Dh]; m: [B, I]; cache k/v: [B, cap, Hkv, Dh]
import { cast, keep, tensor, type QDevice, type Tensor } from '@q/core';
import { empty } from '@q/core/kernel';
import type { CausalLM } from '../modules/causal-lm';
import type { KVCache } from '../modules/kv-cache';
import { Linear } from '../modules/linear';
import { QuantLinear } from '../modules/quant-linear';
import type { LinearLike } from '../modules/linear';
import {
  argmaxFinalSource, attentionCombineSource, attentionSource, attentionSplits, embedSource, ATTN_MAX_SPLITS, gemvSource, gemvPlan, rmsSource, sampleSource, SAMPLE_CAP,
  MAX_EOS, UNIFORM_BYTES, type DecodeShape, type GemvSpec, type WeightFormat, type WeightType,
} from './fused-kernels';

const STORAGE = 0x80;
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const UNIFORM = 0x40;
const MAP_READ = 0x01;
const QUERY_RESOLVE = 0x200;

/** The largest batch the fused kernels take (per-lane accumulators: one register per row). */
export const FUSED_MAX_BATCH = 64;

/** Batches above this many rows get their RMSNorm statistics from one small dispatch (see gemvSource's `pre`). */
export const PRE_NORM_ROWS = 4;

export interface FusedDecoderOptions {
  /** Weight storage of the GEMVs: 'f16' halves the bytes streamed per token (needs shader-f16). Default 'f32'. */
  weightDtype?: WeightType;
  /** transformers' repetition penalty (1 = off). */
  repetitionPenalty?: number;
  /** eos cannot be chosen before this many new tokens. */
  minNewTokens?: number;
  eosTokenIds?: number[];
  /** Steps in flight before the host waits for the oldest one's ids. Default 4. */
  depth?: number;
  /**
   * Sample instead of argmax: temperature, top-k (1 ≤ k ≤ 1024), top-p, and one uniform number per
   * row and new token, `randoms[t · B + b]` for new token t (the host draws them, from the seed).
   */
  sampling?: { temperature: number; topK: number; topP: number; randoms: Float32Array };
  /** Time each step on the GPU with timestamp queries (see {@link FusedDecoder.gpuMs}). */
  profile?: boolean;
  /** GEMV reductions with subgroup operations. Default: when the device has 'subgroups' (false forces the workgroup-memory fallback). */
  subgroups?: boolean;
}

interface Step {
  /** Encodes the dispatch; false when this step has nothing to do (a combine with one split). */
  encode(pass: GPUComputePassEncoder): boolean;
}

/** A fixed grid, or one computed per step (null: skip the dispatch). */
type Grid = [number, number] | [number, number, number] | (() => [number, number, number] | null);

// Pipelines by WGSL source, per device: a generate() call builds bind groups, never recompiles.
const pipelines = new WeakMap<GPUDevice, Map<string, { layout: GPUBindGroupLayout; pipeline: GPUComputePipeline }>>();

/**
 * Software adapters (lavapipe, SwiftShader) compile each fused kernel in ~0.1 s, more than a short
 * generation saves, so `decoder: 'auto'` keeps the eager path there.
 */
export function isSoftwareAdapter(dev: QDevice): boolean {
  return /llvmpipe|lavapipe|swiftshader|software/i.test(`${dev.info.vendor} ${dev.info.architecture} ${dev.info.description}`);
}

/** Why `model` cannot use the fused decoder for `batch` rows, or null when it can. */
export function fusedUnsupported(model: CausalLM, batch: number, o: { weightDtype?: WeightType; eosTokenIds?: number[] } = {}): string | null {
  const c = model.config;
  if ((o.eosTokenIds?.length ?? 0) > MAX_EOS) return `more than ${MAX_EOS} eos ids`;
  if (batch > FUSED_MAX_BATCH) return `batch ${batch} > ${FUSED_MAX_BATCH}`;
  if (c.headDim > 128 || c.headDim % 2) return `head dim ${c.headDim}`;
  if (c.hiddenSize % 4 || c.intermediateSize % 4) return 'hidden or intermediate size not a multiple of 4';
  if (model.embedTokens.dtype !== 'f32' && model.embedTokens.dtype !== 'f16') return `embeddings in ${model.embedTokens.dtype}`;
  if (model.embedTokens.dtype === 'f16' && !model.dev.info.f16) return 'an f16 model needs shader-f16';
  if (o.weightDtype === 'f16' && !model.dev.info.f16) return 'the adapter has no shader-f16';
  for (const l of model.layers) {
    for (const [name, p] of Object.entries(l.proj)) {
      const u = unwrap(p);
      if (u.fmt === 'unsupported') return `${name}: ${u.why}`;
      if (u.lora && !['q_proj', 'k_proj', 'v_proj'].includes(name)) return `LoRA on ${name} (only q/k/v adapters are fused)`;
      if (u.fmt === 'nf4' && (u.inF % 32 || u.blocksize! % 32 || u.inF % u.blocksize!)) return `${name}: NF4 with in_features ${u.inF}, blocksize ${u.blocksize}`;
      if (u.bias && !['q_proj', 'k_proj', 'v_proj'].includes(name)) return `${name} has a bias`;
    }
    const qkv = (['q_proj', 'k_proj', 'v_proj'] as const).map((n) => unwrap(l.proj[n]));
    if (new Set(qkv.map((x) => x.fmt)).size > 1) return 'q/k/v stored differently';
    const rs = new Set(qkv.filter((x) => x.lora).map((x) => x.lora!.r));
    if (rs.size > 1) return 'q/k/v adapters of different ranks';
    if (l.proj.gate_proj.constructor !== l.proj.up_proj.constructor) return 'gate/up stored differently';
  }
  return null;
}

export class FusedDecoder {
  /** Dispatches of the last step (the attention combine runs only when the cache is split). */
  dispatchesPerStep = 0;
  /** Key splits of the attention in the step being encoded (see attentionSplits). */
  private split = { chunk: 1, splits: 1 };
  private readonly dev: QDevice;
  private readonly owned: Tensor[] = [];
  private readonly steps: Step[] = [];
  private readonly tok: Tensor;
  private readonly seen: Tensor;
  private readonly padT: Tensor;
  private readonly uniform: GPUBuffer;
  private readonly params = new ArrayBuffer(UNIFORM_BYTES);
  private readonly staging: GPUBuffer[] = [];
  private readonly inflight: { buf: GPUBuffer; done: Promise<void> }[] = [];
  private readonly query: { set: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer; n: number; cap: number } | null = null;
  readonly B: number;
  private readonly V: number;
  private readonly seenWords: number;
  private readonly nHeads: number;

  constructor(
    private readonly model: CausalLM,
    private readonly cache: KVCache,
    pads: number[],
    promptLen: number,
    private readonly o: FusedDecoderOptions = {},
  ) {
    const why = fusedUnsupported(model, pads.length, o);
    if (why) throw new Error(`FusedDecoder: ${why}`);
    const c = model.config;
    const dev = (this.dev = model.dev);
    const B = (this.B = pads.length);
    const s: DecodeShape = {
      B, D: c.hiddenSize, Hq: c.numAttentionHeads, Hkv: c.numKeyValueHeads, Dh: c.headDim, I: c.intermediateSize,
      V: model.vocabSize, eps: c.rmsNormEps, maxPos: model.rotary.maxPositions,
    };
    this.V = s.V;
    this.nHeads = s.Hq;
    this.seenWords = Math.ceil(s.V / 32);
    const wt = o.weightDtype ?? 'f32';
    const cacheT: WeightType = cache.layers[0]!.k.dtype === 'f16' ? 'f16' : 'f32';
    const own = (t: Tensor) => (this.owned.push(keep(t)), t);
    const W = (t: Tensor) => (t.dtype === 'f16' ? t : wt === 'f16' ? own(cast(t, 'f16')) : t);
    // Norm weights, biases and adapters are read as f32 (an f16 model's are cast once, here).
    const f32 = (t: Tensor) => (t.dtype === 'f32' ? t : own(cast(t, 'f32')));
    const nqkv = (s.Hq + 2 * s.Hkv) * s.Dh;

    const h = own(empty([B, s.D], 'f32', dev));
    const qkv = own(empty([B, nqkv], 'f32', dev));
    const a = own(empty([B, s.Hq * s.Dh], 'f32', dev));
    const m = own(empty([B, s.I], 'f32', dev));
    // Attention partials of split-K: [B, Hq, splits, Dh + 2].
    const apart = own(empty([B * s.Hq * ATTN_MAX_SPLITS * (s.Dh + 2)], 'f32', dev));
    this.tok = own(empty([B], 'i32', dev));
    this.seen = own(tensor(new Int32Array(B * this.seenWords), [B * this.seenWords], { dtype: 'i32', dev }));
    const padT = (this.padT = own(tensor(Int32Array.from(pads), [B], { dtype: 'i32', dev })));
    this.uniform = dev.gpu.createBuffer({ size: UNIFORM_BYTES, usage: UNIFORM | COPY_DST });
    const eos = o.eosTokenIds ?? [];
    const u = new DataView(this.params);
    [0, cache.capacity, promptLen, o.minNewTokens ?? 0].forEach((v, i) => u.setUint32(4 * i, v, true));
    u.setFloat32(16, o.repetitionPenalty ?? 1, true);
    u.setUint32(20, eos.length, true);
    eos.forEach((e, i) => u.setUint32(24 + 4 * i, e, true));
    const smp = o.sampling;
    if (smp) {
      if (!(smp.topK >= 1 && smp.topK <= SAMPLE_CAP)) throw new Error(`FusedDecoder: topK ${smp.topK} outside [1, ${SAMPLE_CAP}]`);
      u.setFloat32(40, smp.temperature, true);
      u.setUint32(44, smp.topK, true);
      u.setFloat32(48, smp.topP, true);
    }
    const head = model.lmHead ?? model.embedTokens;
    const headW = W(head);
    const sg = (o.subgroups ?? dev.info.subgroups) && dev.info.subgroups;
    const sgMin = Math.max(4, dev.info.subgroupMinSize || 4);
    const headSpec: GemvSpec = { B, K: s.D, N: s.V, fmt: headW.dtype === 'f16' ? 'f16' : 'f32', norm: { eps: s.eps, pre: B > PRE_NORM_ROWS }, mode: 'head' };
    const headGrid = gemvPlan(headSpec).grid;
    const nparts = headGrid[0] * headGrid[1];
    const part = own(empty([B * nparts * 2], 'f32', dev));

    this.add(embedSource(s, model.embedTokens.dtype === 'f16' ? 'f16' : 'f32'), [this.tok, model.embedTokens, h], [Math.ceil(s.D / 256), B]);
    const gemv = (spec: Omit<GemvSpec, 'B'>, t: Record<string, Tensor>, uniform?: GPUBuffer) => {
      const { wgsl, names, plan } = gemvSource({ ...spec, B, subgroups: sg, subgroupMinSize: sgMin });
      this.add(wgsl, names.map((n) => (n === 'rs' ? rs : (t[n] ?? fail(`no tensor for binding ${n}`)))), plan.grid, uniform);
    };
    // Above a few rows, one small RMS dispatch beats every GEMV workgroup re-reading B·D activations.
    const pre = B > PRE_NORM_ROWS;
    const norm = { eps: s.eps, pre };
    const rs = own(empty([B], 'f32', dev));
    const rms = () => {
      if (pre) this.add(rmsSource(B, s.D, s.eps), [h, rs], [B, 1]);
    };
    model.layers.forEach((layer, i) => {
      const [q, k, v] = (['q_proj', 'k_proj', 'v_proj'] as const).map((n) => unwrap(layer.proj[n]));
      rms();
      // q, k and v as one [Nqkv, D] weight (dense or NF4) and one bias: one GEMV.
      const qkvW = concatWeights([q!, k!, v!], wt, own, dev);
      const bqkv = own(empty([nqkv], 'f32', dev));
      let boff = 0;
      for (const p of [q!, k!, v!]) {
        if (p.bias) dev.copy(f32(p.bias).buffer, 0, bqkv.buffer, boff, p.out * 4);
        else dev.write(bqkv.buffer, boff, new Float32Array(p.out));
        boff += p.out * 4;
      }
      let lora: GemvSpec['lora'];
      const t: Record<string, Tensor> = { x: h, nw: f32(layer.inputLayernorm), bias: bqkv, y: qkv, ...qkvW.t };
      const loras = [q!, k!, v!].map((p) => p.lora);
      if (loras.some(Boolean)) {
        // Unmerged LoRA on q/k/v: lu = RMSNorm(h) · [Aq; Ak; Av]ᵀ (one small GEMV), then each column
        // adds scaling · B[n, :] · lu in the qkv GEMV's epilogue.
        const r = loras.find(Boolean)!.r;
        const aCat = own(empty([3 * r, s.D], 'f32', dev));
        const bCat = own(empty([nqkv, r], 'f32', dev));
        let rowOff = 0;
        loras.forEach((l, j) => {
          const out = [q!, k!, v!][j]!.out;
          if (l) {
            dev.copy(f32(l.A).buffer, 0, aCat.buffer, j * r * s.D * 4, r * s.D * 4);
            dev.copy(f32(l.B).buffer, 0, bCat.buffer, rowOff * r * 4, out * r * 4);
          } else {
            dev.write(aCat.buffer, j * r * s.D * 4, new Float32Array(r * s.D));
            dev.write(bCat.buffer, rowOff * r * 4, new Float32Array(out * r));
          }
          rowOff += out;
        });
        const lu = own(empty([B, 3 * r], 'f32', dev));
        gemv({ K: s.D, N: 3 * r, fmt: 'f32', norm, mode: 'store' }, { x: h, nw: f32(layer.inputLayernorm), w: aCat, y: lu });
        lora = { r, ends: [q!.out, q!.out + k!.out, nqkv], scales: loras.map((l) => l?.scaling ?? 0) };
        Object.assign(t, { lu, lb: bCat });
      }
      gemv({ K: s.D, N: nqkv, fmt: qkvW.fmt, blocksize: qkvW.blocksize, norm, mode: 'bias', lora }, t);
      const lc = cache.layers[i]!;
      this.add(attentionSource(s, cacheT), [qkv, model.rotary.cos, model.rotary.sin, padT, lc.k, lc.v, a, apart], () => [s.Hq, B, this.split.splits], this.uniform);
      this.add(attentionCombineSource(s), [apart, a], () => (this.split.splits > 1 ? [s.Hq, B, 1] : null), this.uniform);
      const [o2, g, up, dn] = (['o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const).map((n) => unwrap(layer.proj[n]));
      const ow = concatWeights([o2!], wt, own, dev);
      gemv({ K: s.Hq * s.Dh, N: s.D, fmt: ow.fmt, blocksize: ow.blocksize, mode: 'residual' }, { x: a, h, ...ow.t });
      const gw = concatWeights([g!], wt, own, dev);
      rms();
      const uw = concatWeights([up!], wt, own, dev);
      gemv(
        { K: s.D, N: s.I, fmt: gw.fmt, blocksize: gw.blocksize, norm, mode: 'swiglu' },
        { x: h, nw: f32(layer.postAttentionLayernorm), y: m, ...gw.t, w2: uw.t.w!, ...(uw.t.am ? { am2: uw.t.am } : {}) },
      );
      const dw = concatWeights([dn!], wt, own, dev);
      gemv({ K: s.I, N: s.D, fmt: dw.fmt, blocksize: dw.blocksize, mode: 'residual' }, { x: m, h, ...dw.t });
    });
    rms();
    if (smp) {
      const logits = own(empty([B, s.V], 'f32', dev));
      const rnd = own(tensor(smp.randoms, [smp.randoms.length], { dev }));
      gemv({ K: s.D, N: s.V, fmt: headW.dtype === 'f16' ? 'f16' : 'f32', norm, mode: 'logits' }, { x: h, nw: f32(model.norm), w: headW, seen: this.seen, y: logits }, this.uniform);
      this.add(sampleSource(s), [logits, rnd, this.tok, this.seen], [B, 1], this.uniform);
    } else {
      gemv({ K: s.D, N: s.V, fmt: headW.dtype === 'f16' ? 'f16' : 'f32', norm, mode: 'head' }, { x: h, nw: f32(model.norm), w: headW, seen: this.seen, part }, this.uniform);
      this.add(argmaxFinalSource(s, nparts), [part, this.tok, this.seen], [B, 1]);
    }
    for (let i = 0; i < (o.depth ?? 4) + 1; i++) this.staging.push(dev.gpu.createBuffer({ size: Math.max(16, B * 4), usage: MAP_READ | COPY_DST }));
    if (o.profile && dev.info.timestamps) {
      const cap = 256;
      this.query = {
        set: dev.gpu.createQuerySet({ type: 'timestamp', count: cap * 2 }),
        resolve: dev.gpu.createBuffer({ size: cap * 16, usage: QUERY_RESOLVE | COPY_SRC }),
        read: dev.gpu.createBuffer({ size: cap * 16, usage: MAP_READ | COPY_DST }),
        n: 0,
        cap,
      };
    }
    dev.flush();
  }

  /** Compiles one kernel and binds its buffers once; `uniform` is bound last when given. */
  private add(wgsl: string, ts: Tensor[], wg: Grid, uniform?: GPUBuffer): void {
    const gpu = this.dev.gpu;
    let cache = pipelines.get(gpu);
    if (!cache) pipelines.set(gpu, (cache = new Map()));
    let entry = cache.get(wgsl);
    if (!entry) {
      // The kernel's own declarations say which bindings it writes.
      const access = ts.map((_, i) => new RegExp(`@binding\\(${i}\\) var<storage, read_write>`).test(wgsl));
      const entries: GPUBindGroupLayoutEntry[] = ts.map((_, i) => ({ binding: i, visibility: 4, buffer: { type: access[i] ? 'storage' : 'read-only-storage' } }));
      if (uniform) entries.push({ binding: ts.length, visibility: 4, buffer: { type: 'uniform' } });
      const layout = gpu.createBindGroupLayout({ entries });
      const pipeline = gpu.createComputePipeline({
        layout: gpu.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: gpu.createShaderModule({ code: wgsl }), entryPoint: 'main' },
      });
      cache.set(wgsl, (entry = { layout, pipeline }));
    }
    const { layout, pipeline } = entry;
    const maxBind = gpu.limits.maxStorageBufferBindingSize;
    const group = gpu.createBindGroup({
      layout,
      entries: [
        ...ts.map((t, i) => ({ binding: i, resource: { buffer: t.buffer, size: Math.min(t.buffer.size, maxBind - (maxBind % 4)) } })),
        ...(uniform ? [{ binding: ts.length, resource: { buffer: uniform } }] : []),
      ],
    });
    this.steps.push({
      encode(pass) {
        const g = typeof wg === 'function' ? wg() : wg;
        if (!g) return false;
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(g[0], g[1], g[2] ?? 1);
        return true;
      },
    });
  }

  /** Sets each row's current token (the one the next step consumes) and the ids the repetition penalty counts. */
  start(tokens: number[], seenIds: Iterable<number>[]): void {
    const bits = new Uint32Array(this.B * this.seenWords);
    seenIds.forEach((ids, b) => {
      for (const id of ids) bits[b * this.seenWords + (id >>> 5)]! |= 1 << (id & 31);
    });
    this.dev.write(this.seen.buffer, 0, bits);
    this.dev.write(this.tok.buffer, 0, Int32Array.from(tokens));
  }

  /** Continuous batching: the first attended cache column of every row (after a re-layout of the cache). */
  setPads(pads: number[]): void {
    this.dev.write(this.padT.buffer, 0, Int32Array.from(pads));
  }

  /**
   * Continuous batching: row b starts a new sequence, whose prompt is in the cache and whose
   * current token is `token`; `seenIds` are the ids its repetition penalty counts.
   */
  setRow(b: number, token: number, seenIds: Iterable<number>): void {
    const bits = new Uint32Array(this.seenWords);
    for (const id of seenIds) bits[id >>> 5]! |= 1 << (id & 31);
    this.dev.write(this.seen.buffer, b * this.seenWords * 4, bits);
    this.dev.write(this.tok.buffer, b * 4, Int32Array.of(token));
  }

  /**
   * Submits one step: the tokens in `tok` are appended at cache slot L = cache.length and the
   * next ones chosen. Returns a promise of those ids, resolved when the GPU gets there.
   */
  step(): Promise<Int32Array> {
    const dev = this.dev;
    const L = this.cache.length;
    if (L >= this.cache.capacity) throw new Error(`FusedDecoder: KV cache full (${L} positions)`);
    dev.flush();
    this.split = attentionSplits(L, this.nHeads * this.B);
    const pv = new DataView(this.params);
    pv.setUint32(0, L, true);
    pv.setUint32(52, this.split.chunk, true);
    pv.setUint32(56, this.split.splits, true);
    dev.gpu.queue.writeBuffer(this.uniform, 0, this.params);
    const enc = dev.gpu.createCommandEncoder();
    const q = this.query;
    const slot = q ? q.n++ % q.cap : 0;
    const pass = enc.beginComputePass(q ? { timestampWrites: { querySet: q.set, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 } } : undefined);
    let n = 0;
    for (const s of this.steps) n += s.encode(pass) ? 1 : 0;
    this.dispatchesPerStep = n;
    pass.end();
    const buf = this.staging.pop()!;
    enc.copyBufferToBuffer(this.tok.buffer, 0, buf, 0, this.B * 4);
    dev.gpu.queue.submit([enc.finish()]);
    for (const l of this.cache.layers) l.length++;
    const done = buf.mapAsync(MAP_READ);
    return done.then(() => {
      const ids = new Int32Array(buf.getMappedRange().slice(0, this.B * 4));
      buf.unmap();
      this.staging.push(buf);
      return ids;
    });
  }

  /** Mappable buffers left: the caller awaits an older step before submitting when this is 0. */
  get free(): number {
    return this.staging.length;
  }

  /** Mean GPU time of the steps timed so far, in ms (null without profiling). */
  async gpuMs(): Promise<number | null> {
    const q = this.query;
    if (!q || q.n === 0) return null;
    const n = Math.min(q.n, q.cap);
    const enc = this.dev.gpu.createCommandEncoder();
    enc.resolveQuerySet(q.set, 0, 2 * n, q.resolve, 0);
    enc.copyBufferToBuffer(q.resolve, 0, q.read, 0, n * 16);
    this.dev.gpu.queue.submit([enc.finish()]);
    await q.read.mapAsync(MAP_READ);
    const t = new BigUint64Array(q.read.getMappedRange().slice(0, n * 16));
    q.read.unmap();
    let ns = 0;
    for (let i = 0; i < n; i++) ns += Number(t[2 * i + 1]! - t[2 * i]!);
    return ns / n / 1e6;
  }

  release(): void {
    for (const t of this.owned) t.release();
    this.uniform.destroy();
    for (const b of this.staging) b.destroy();
    this.query?.set.destroy();
    this.query?.resolve.destroy();
    this.query?.read.destroy();
  }
}

/** A projection as the fused kernels see it: its weight format and tensors, bias, and unmerged LoRA. */
interface Unwrapped {
  fmt: WeightFormat | 'unsupported';
  why?: string;
  inF: number;
  out: number;
  dense?: Tensor;
  nf4?: QuantLinear;
  blocksize?: number;
  bias: Tensor | null;
  lora?: { A: Tensor; B: Tensor; r: number; scaling: number };
}

/** Looks through a LoRA wrapper (peft's LoraLinear, by shape: base, loraA, loraB, scaling) to its base. */
function unwrap(p: LinearLike): Unwrapped {
  const l = p as unknown as { base?: LinearLike; loraA?: Tensor; loraB?: Tensor; scaling?: number; r?: number; enabled?: boolean; training?: boolean; dropoutP?: number };
  let lora: Unwrapped['lora'];
  let base = p;
  if (l.base && l.loraA && l.loraB && typeof l.scaling === 'number') {
    base = l.base;
    if (l.enabled !== false) {
      if (l.training && (l.dropoutP ?? 0) > 0) return { fmt: 'unsupported', why: 'LoRA dropout in training mode', inF: p.inFeatures, out: p.outFeatures, bias: null };
      lora = { A: l.loraA, B: l.loraB, r: l.loraA.shape[0]!, scaling: l.scaling };
    }
  }
  if (base instanceof Linear && (base.weight.dtype === 'f32' || base.weight.dtype === 'f16')) {
    return { fmt: base.weight.dtype, inF: base.inFeatures, out: base.outFeatures, dense: base.weight, bias: base.bias, lora };
  }
  if (base instanceof QuantLinear && base.weight4.quantType === 'nf4') {
    return { fmt: 'nf4', inF: base.inFeatures, out: base.outFeatures, nf4: base, blocksize: base.weight4.blocksize, bias: base.bias, lora };
  }
  return { fmt: 'unsupported', why: `${base.constructor.name} (dense f32/f16 Linear or NF4 QuantLinear only)`, inF: p.inFeatures, out: p.outFeatures, bias: null };
}

/**
 * The weights of projections sharing an input as one GEMV's tensors, rows concatenated: dense as
 * `wt` (cast to f16 when asked), NF4 as codes + f32 absmax (+ the shared 16-value map).
 */
function concatWeights(ps: Unwrapped[], wt: WeightType, own: (t: Tensor) => Tensor, dev: QDevice): { fmt: WeightFormat; blocksize?: number; t: Record<string, Tensor> } {
  const K = ps[0]!.inF;
  const N = ps.reduce((a, p) => a + p.out, 0);
  if (ps[0]!.fmt === 'nf4') {
    const w4 = ps.map((p) => p.nf4!.weight4);
    const codes = ps.length === 1 ? w4[0]!.codes : own(empty([(N * K) / 8], 'u32', dev));
    const absmax = own(empty([(N * K) / w4[0]!.blocksize], 'f32', dev));
    let co = 0;
    let ao = 0;
    for (const w of w4) {
      if (ps.length > 1) dev.copy(w.codes.buffer, 0, codes.buffer, co, (w.numel / 8) * 4);
      co += (w.numel / 8) * 4;
      const am = w.absmaxF32();
      dev.copy(am.buffer, 0, absmax.buffer, ao, w.blocks * 4);
      ao += w.blocks * 4;
      if (w.nested) am.release(); // a transient decode of the nested absmax; queue order keeps the copy first
    }
    return { fmt: 'nf4', blocksize: w4[0]!.blocksize, t: { w: codes, am: absmax, qm: w4[0]!.qmap } };
  }
  // Stored f16 stays f16; stored f32 is streamed as `wt` (cast once here when that is f16).
  const target: WeightType = ps[0]!.dense!.dtype === 'f16' ? 'f16' : wt;
  const bytes = target === 'f16' ? 2 : 4;
  const conv = (t: Tensor) => (t.dtype === target ? t : cast(t, target));
  if (ps.length === 1) {
    const c = conv(ps[0]!.dense!);
    return { fmt: target, t: { w: c === ps[0]!.dense ? c : own(c) } };
  }
  const w = own(empty([N, K], target, dev));
  let off = 0;
  for (const p of ps) {
    const src = conv(p.dense!);
    dev.copy(src.buffer, 0, w.buffer, off, p.out * K * bytes);
    off += p.out * K * bytes;
    if (src !== p.dense) src.release(); // queue order: the copy is recorded before any reuse
  }
  return { fmt: target, t: { w } };
}

function fail(msg: string): never {
  throw new Error(`FusedDecoder: ${msg}`);
}
