/**
 * 4-bit dequantization, bit for bit as bitsandbytes' CUDA `dequantize_4bit`.
 */
import { ShapeError } from '@q/core';
import { roundToDtype } from './origin-dtype';
import { numelOf, type QuantizedTensor } from './quantized-tensor';

const f = Math.fround;

/**
 * The float32 absmax of every block. For a double-quantized tensor this undoes the nested
 * quantization as bitsandbytes does: fround(fround(nestedQuantMap[q] * nestedAbsmax) + offset).
 *
 * @example
 * ```ts
 * const absmax = dequantizeAbsmax(q) // upload next to packedU32View(q) for a GPU kernel
 * ```
 */
export function dequantizeAbsmax(q: QuantizedTensor): Float32Array {
  checkConsistent(q);
  if (!q.doubleQuant) return q.absmax;
  const out = new Float32Array(q.absmax.length);
  for (let i = 0; i < q.absmax.length; i++) {
    const scaled = f(q.nestedQuantMap[q.absmax[i]] * q.nestedAbsmax[Math.floor(i / q.nestedBlocksize)]);
    out[i] = scaled + q.offset;
  }
  return out;
}

/**
 * Dequantize a 4-bit tensor to float32 values (rounded to the tensor's origin dtype):
 * value[i] = quantMap[code[i]] * absmax[i / blocksize], one float32 rounding, as the CUDA kernel.
 * The result is flat; its logical shape is `q.shape`.
 *
 * NOTE: bitsandbytes' kernel ignores the stored quant map and uses its built-in NF4/FP4 constants;
 * they equal `NF4_CODE`/`FP4_CODE`, which is what `quantizeNF4` stores and `fromBnbTensors` checks.
 *
 * @example
 * ```ts
 * const w = dequantizeNF4(quantizeNF4(Float32Array.of(0.5, -1, 0.25, 0)))
 * // w = [0.44070982933044434, -1, 0.24611230194568634, 0]
 * ```
 */
export function dequantizeNF4(q: QuantizedTensor): Float32Array {
  const absmax = dequantizeAbsmax(q);
  const n = numelOf(q.shape);
  const out = new Float32Array(n);
  const map = q.quantMap;
  for (let i = 0; i < n; i++) {
    const byte = q.packed[i >> 1];
    const code = i & 1 ? byte & 0x0f : byte >> 4;
    const v = map[code] * absmax[Math.floor(i / q.blocksize)];
    out[i] = q.dtype === 'float32' ? v : roundToDtype(f(v), q.dtype);
  }
  return out;
}

/** Alias of {@link dequantizeNF4} under bitsandbytes' name. */
export const dequantize4bit = dequantizeNF4;

/** Throw a ShapeError if the pieces of `q` do not fit together. */
export function checkConsistent(q: QuantizedTensor): void {
  const n = numelOf(q.shape);
  const blocks = Math.ceil(n / q.blocksize);
  const fail = (what: string, want: number, got: number) => {
    throw new ShapeError(`QuantizedTensor of shape [${q.shape.join(', ')}], blocksize ${q.blocksize}: ${what} has length ${got}, expected ${want}`);
  };
  if (q.packed.length !== Math.ceil(n / 2)) fail('packed', Math.ceil(n / 2), q.packed.length);
  if (q.absmax.length !== blocks) fail('absmax', blocks, q.absmax.length);
  if (q.quantMap.length !== 16) fail('quantMap', 16, q.quantMap.length);
  if (q.doubleQuant) {
    const nested = Math.ceil(blocks / q.nestedBlocksize);
    if (q.nestedAbsmax.length !== nested) fail('nestedAbsmax', nested, q.nestedAbsmax.length);
    if (q.nestedQuantMap.length !== 256) fail('nestedQuantMap', 256, q.nestedQuantMap.length);
  }
}
