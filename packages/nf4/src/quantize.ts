/**
 * 4-bit blockwise quantization (NF4/FP4), bit for bit as bitsandbytes' CUDA `quantize_4bit`.
 */
import { ShapeError, ValueError } from '@q/core';
import { codeFunctionFor, quantMapFor } from './codebooks';
import { dynamicMap } from './dynamic-map';
import { quantizeBlockwise8bit } from './blockwise-8bit';
import { roundToDtype } from './origin-dtype';
import { NESTED_BLOCKSIZE, numelOf, type QuantizedTensor } from './quantized-tensor';
import { validateQuantizeOptions, type QuantizeOptions } from './quantize-options';

const f = Math.fround;

/**
 * Quantize float32 values to 4 bits per value in blocks, as bitsandbytes does on CUDA:
 * per block absmax = max |v|, x = v * fround(1/absmax), code = the NF4/FP4 decision tree of x,
 * two codes per byte with the first element in the high nibble. With `doubleQuant`, the absmax
 * values are shifted by their mean and quantized again to 8 bits in blocks of 256.
 *
 * Throws ValueError for NaN/Inf (naming the first bad index), ShapeError when `shape` does not
 * match the data or the data is empty, ConfigError for bad options.
 *
 * @example
 * ```ts
 * const q = quantizeNF4(weights, { blocksize: 64, doubleQuant: true, shape: [out, inp] })
 * const back = dequantizeNF4(q) // Float32Array, max error <= absmax * 0.14 per value
 * ```
 */
export function quantizeNF4(data: Float32Array, opts: QuantizeOptions = {}): QuantizedTensor {
  const o = validateQuantizeOptions(opts);
  if (!(data instanceof Float32Array)) {
    throw new ValueError(`quantizeNF4: data must be a Float32Array, got ${describeType(data)}`);
  }
  const n = data.length;
  const shape = o.shape ? [...o.shape] : [n];
  if (numelOf(shape) !== n) {
    throw new ShapeError(`quantizeNF4: shape [${shape.join(', ')}] holds ${numelOf(shape)} values but data has ${n}`);
  }
  if (n === 0) throw new ShapeError('quantizeNF4: cannot quantize an empty tensor');

  const values = prepareValues(data, o.dtype, shape);
  const { packed, absmax } = quantize4bitBlocks(values, o.blocksize, codeFunctionFor(o.quantType));
  const base = { quantType: o.quantType, blocksize: o.blocksize, shape, dtype: o.dtype, packed, quantMap: quantMapFor(o.quantType) };
  if (!o.doubleQuant) return { ...base, doubleQuant: false, absmax };

  // bitsandbytes: offset = absmax.mean(); quantize_blockwise(absmax - offset, blocksize=256).
  // NOTE: torch's float32 mean sums on the GPU in its own order; here the mean is summed in
  // float64 and rounded once, which can differ from torch by an ulp on large tensors.
  let sum = 0;
  for (let i = 0; i < absmax.length; i++) sum += absmax[i];
  const offset = f(sum / absmax.length);
  const shifted = new Float32Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) shifted[i] = absmax[i] - offset;
  const code = dynamicMap();
  const nested = quantizeBlockwise8bit(shifted, code, NESTED_BLOCKSIZE);
  return {
    ...base,
    doubleQuant: true,
    absmax: nested.codes,
    nestedAbsmax: nested.absmax,
    nestedQuantMap: code.slice(),
    nestedBlocksize: NESTED_BLOCKSIZE,
    offset,
  };
}

/** Alias of {@link quantizeNF4} under bitsandbytes' name; quantType 'fp4' gives FP4. */
export const quantize4bit = quantizeNF4;

/**
 * The kernel's block loop: absmax per block, reciprocal, codes packed high nibble first. A final
 * odd element is paired with a padding zero (the kernel loads 0 past the end), whose code is
 * 7 for NF4 (or 0 when the block is all zeros: 0 * inf = NaN) and 0 for FP4.
 */
function quantize4bitBlocks(
  values: Float32Array,
  blocksize: number,
  codeOf: (x: number) => number,
): { packed: Uint8Array; absmax: Float32Array } {
  const n = values.length;
  const blocks = Math.ceil(n / blocksize);
  const packed = new Uint8Array(Math.ceil(n / 2));
  const absmax = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(start + blocksize, n);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i]));
    absmax[b] = m;
    const inv = f(1 / m);
    // blocksize is even, so pairs never straddle blocks.
    for (let i = start; i < end; i += 2) {
      const hi = codeOf(f(values[i] * inv));
      const lo = codeOf(f((i + 1 < n ? values[i + 1] : 0) * inv));
      packed[i >> 1] = (hi << 4) | lo;
    }
  }
  return { packed, absmax };
}

/** Check finiteness and round to the origin dtype, naming the first bad element. */
function prepareValues(data: Float32Array, dtype: QuantizeOptions['dtype'] & string, shape: number[]): Float32Array {
  const out = dtype === 'float32' ? data : new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      throw new ValueError(`quantizeNF4: element ${i}${where(i, shape)} is ${v}; 4-bit quantization needs finite values`);
    }
    if (out !== data) {
      const r = roundToDtype(v, dtype);
      if (!Number.isFinite(r)) {
        throw new ValueError(`quantizeNF4: element ${i}${where(i, shape)} = ${v} overflows ${dtype}`);
      }
      out[i] = r;
    }
  }
  return out;
}

/** " (index [r, c] of shape [R, C])" for multi-dimensional shapes, "" otherwise. */
function where(flat: number, shape: number[]): string {
  if (shape.length < 2) return '';
  const idx: number[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return ` (index [${idx.join(', ')}] of shape [${shape.join(', ')}])`;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
