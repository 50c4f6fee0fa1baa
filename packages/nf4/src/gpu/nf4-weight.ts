/**
 * A 4-bit weight resident on the GPU, as nn.Linear stores it ([out, in], row-major) and
 * bitsandbytes packs it: codes as u32 words (element i in byte i/2, first element of a byte in the
 * HIGH nibble, bytes little-endian in the word), one absmax per block.
 *
 * Double-quantized weights stay double-quantized on the GPU (8-bit absmax codes, 4 per u32 word,
 * + one f32 per 256 blocks + the 256-entry map + offset), so the resident cost is the honest
 * ~4.127 bits per parameter. Kernels do not decode the nested absmax themselves: each call expands
 * it once into a transient f32 buffer (`blocks` floats = 1/8 of the code bytes, one small kernel)
 * that is released when the call returns. That keeps one absmax path in every kernel, and the
 * expansion is exact (integer IEEE arithmetic), so GPU dequantization matches the CPU bit for bit.
 */
import { DTYPE_BYTES, ShapeError, keep, tensor, device, type QDevice, type Tensor } from '@q/core';
import { launch, grid1d, LINEAR_INDEX, empty } from '@q/core/kernel';
import type { QuantType } from '../codebooks';
import type { OriginDtype } from '../origin-dtype';
import { checkConsistent } from '../dequantize';
import { packedU32View, bitsPerParameter } from '../packed-view';
import { numelOf, type QuantizedTensor } from '../quantized-tensor';
import { EXACT_FLOAT_WGSL } from './exact-float.wgsl';

/** The nested (8-bit) absmax of a double-quantized weight, on the GPU. */
export interface NestedAbsmax {
  /** One 8-bit code per block, 4 per u32 word (little-endian); [ceil(blocks / 4)]. */
  codes: Tensor;
  /** f32 absmax per nested block of `blocksize` blocks. */
  absmax: Tensor;
  /** The 256-entry dynamic map, f32. */
  map: Tensor;
  blocksize: number;
  /** Mean of the absmax values, added back after decoding. */
  offset: number;
}

/** What an {@link Nf4Weight} is made of; its tensors are handed over to it. */
export interface Nf4WeightParts {
  shape: readonly number[];
  quantType: QuantType;
  blocksize: number;
  dtype: OriginDtype;
  quantMap: Float32Array;
  codes: Tensor;
  qmap: Tensor;
  absmax: Tensor | null;
  nested: NestedAbsmax | null;
}

export class Nf4Weight {
  /** Logical shape; [out, in] for a linear layer. */
  readonly shape: readonly number[];
  readonly quantType: QuantType;
  readonly blocksize: number;
  /** dtype the weight came from; dequantization rounds to it, as bitsandbytes does. */
  readonly dtype: OriginDtype;
  /** The 16 code values (host copy; the GPU copy is `qmap`). */
  readonly quantMap: Float32Array;
  /** Packed codes, u32 [ceil(n / 8)]. */
  readonly codes: Tensor;
  /** The 16 code values, f32 [16]. */
  readonly qmap: Tensor;
  /** f32 absmax per block, or null when double-quantized (see `nested`). */
  readonly absmax: Tensor | null;
  readonly nested: NestedAbsmax | null;
  private released = false;

  private constructor(p: Nf4WeightParts) {
    this.shape = Object.freeze([...p.shape]);
    this.quantType = p.quantType;
    this.blocksize = p.blocksize;
    this.dtype = p.dtype;
    this.quantMap = p.quantMap;
    this.codes = p.codes;
    this.qmap = p.qmap;
    this.absmax = p.absmax;
    this.nested = p.nested;
  }

  /**
   * Uploads a quantized tensor (from `quantizeNF4` or a bnb checkpoint via `fromBnbTensors`).
   *
   * @example
   * ```ts
   * const w = Nf4Weight.upload(quantizeNF4(data, { shape: [out, inp], doubleQuant: true }));
   * const y = nf4Linear(x, w);
   * w.release();
   * ```
   */
  static upload(q: QuantizedTensor, dev: QDevice = device()): Nf4Weight {
    checkConsistent(q);
    const words = packedU32View(q);
    const codes = keep(tensor(words, [words.length], { dtype: 'u32', dev, name: 'nf4.codes' }));
    const qmap = keep(tensor(q.quantMap, [16], { dev, name: 'nf4.qmap' }));
    const base = { shape: q.shape, quantType: q.quantType, blocksize: q.blocksize, dtype: q.dtype, quantMap: q.quantMap.slice(), codes, qmap };
    if (!q.doubleQuant) {
      return new Nf4Weight({ ...base, absmax: keep(tensor(q.absmax, [q.absmax.length], { dev, name: 'nf4.absmax' })), nested: null });
    }
    return new Nf4Weight({ ...base, absmax: null, nested: uploadNested(q.absmax, q.nestedAbsmax, q.nestedQuantMap, q.nestedBlocksize, q.offset, dev) });
  }

  /** @internal Assembles a weight from GPU tensors the caller hands over (quantizeOnGpu). */
  static fromParts(parts: Nf4WeightParts): Nf4Weight {
    return new Nf4Weight(parts);
  }

  get numel(): number {
    return numelOf(this.shape);
  }
  get blocks(): number {
    return Math.ceil(this.numel / this.blocksize);
  }
  get doubleQuant(): boolean {
    return this.nested !== null;
  }
  get isReleased(): boolean {
    return this.released;
  }

  /** GPU bytes this weight holds (tensor sizes; the pool may round allocations up to 25%). */
  get bytes(): number {
    const ts = [this.codes, this.qmap, this.absmax, this.nested?.codes, this.nested?.absmax, this.nested?.map];
    return ts.reduce((s, t) => s + (t ? t.size * DTYPE_BYTES[t.dtype] : 0), 0);
  }

  /** Bits per parameter as the QLoRA paper counts them (codes + absmax storage, no fixed tables). */
  get bitsPerParameter(): number {
    const n = this.numel;
    const packed = { length: Math.ceil(n / 2) } as Uint8Array;
    const absmax = { length: this.blocks } as Float32Array;
    if (!this.nested) return bitsPerParameter({ packed, absmax, doubleQuant: false, shape: [n] } as QuantizedTensor);
    const nestedAbsmax = { length: this.nested.absmax.size } as Float32Array;
    return bitsPerParameter({ packed, absmax, nestedAbsmax, doubleQuant: true, shape: [n] } as unknown as QuantizedTensor);
  }

  /**
   * The f32 absmax per block for a kernel: a view of the stored one, or for double-quantized
   * weights a freshly decoded transient buffer. The caller releases it.
   */
  absmaxF32(): Tensor {
    this.check();
    if (this.absmax) return this.absmax.reshape([this.blocks]);
    return decodeNestedAbsmax(this.nested!, this.blocks);
  }

  /** Reads the weight back into the CPU form (tests, saving a GPU-quantized model). */
  async toQuantized(): Promise<QuantizedTensor> {
    this.check();
    const n = this.numel;
    const words = (await this.codes.read()) as Uint32Array;
    const packed = new Uint8Array(words.buffer, words.byteOffset, Math.ceil(n / 2)).slice();
    const base = { quantType: this.quantType, blocksize: this.blocksize, shape: [...this.shape], dtype: this.dtype, packed, quantMap: this.quantMap.slice() };
    if (!this.nested) return { ...base, doubleQuant: false, absmax: (await this.absmax!.read()) as Float32Array };
    const codes = (await this.nested.codes.read()) as Uint32Array;
    return {
      ...base,
      doubleQuant: true,
      absmax: new Uint8Array(codes.buffer, codes.byteOffset, this.blocks).slice(),
      nestedAbsmax: (await this.nested.absmax.read()) as Float32Array,
      nestedQuantMap: (await this.nested.map.read()) as Float32Array,
      nestedBlocksize: this.nested.blocksize,
      offset: this.nested.offset,
    };
  }

  /** Frees the GPU buffers; using the weight afterwards throws. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const t of [this.codes, this.qmap, this.absmax, this.nested?.codes, this.nested?.absmax, this.nested?.map]) t?.release();
  }

  /** @internal */
  check(): void {
    if (this.released) throw new ShapeError(`Nf4Weight [${this.shape}] was used after release()`);
  }
}

/** Uploads a nested absmax (8-bit codes, nested absmax, map, offset). */
export function uploadNested(codes8: Uint8Array, nestedAbsmax: Float32Array, map: Float32Array, blocksize: number, offset: number, dev: QDevice): NestedAbsmax {
  const words = new Uint32Array(Math.ceil(codes8.length / 4));
  new Uint8Array(words.buffer).set(codes8);
  return {
    codes: keep(tensor(words, [words.length], { dtype: 'u32', dev, name: 'nf4.absmax8' })),
    absmax: keep(tensor(nestedAbsmax, [nestedAbsmax.length], { dev, name: 'nf4.nestedAbsmax' })),
    map: keep(tensor(map, [256], { dev, name: 'nf4.nestedMap' })),
    blocksize,
    offset,
  };
}

const decodeKernel = {
  name: 'nf4_decode_absmax',
  bindings: [
    { name: 'codes', dtype: 'u32' as const },
    { name: 'nested', dtype: 'u32' as const },
    { name: 'map', dtype: 'u32' as const },
    { name: 'out', dtype: 'u32' as const, access: 'read_write' as const },
  ],
  uniforms: [
    ['blocks', 'u32'],
    ['nestedBlocksize', 'u32'],
    ['offset', 'u32'],
  ] as [string, 'u32'][],
  header: EXACT_FLOAT_WGSL,
  // absmax[i] = fround(fround(map[q_i] * nested[i / 256]) + offset), as bitsandbytes (two torch
  // ops, no fused multiply-add) and dequantizeAbsmax on the CPU.
  body: `let i = ${LINEAR_INDEX}; if (i >= u.blocks) { return; }
let q = (codes[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
out[i] = fx_add(fx_mul(map[q], nested[i / u.nestedBlocksize]), u.offset);`,
};

/** Decodes a nested absmax to f32 [blocks] (a new tensor the caller releases). */
export function decodeNestedAbsmax(n: NestedAbsmax, blocks: number): Tensor {
  const out = empty([blocks], 'f32', n.codes.dev);
  launch(decodeKernel, [n.codes, n.absmax, n.map, out], grid1d(blocks), [blocks, n.blocksize, f32BitsOf(n.offset)]);
  return out;
}

const scratch = new Float32Array(1);
/** float32 bits of a number, for passing an exact f32 through a u32 uniform. */
export function f32BitsOf(x: number): number {
  scratch[0] = x;
  return new Uint32Array(scratch.buffer)[0]!;
}
