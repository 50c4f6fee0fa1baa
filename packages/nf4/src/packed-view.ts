/**
 * GPU-upload helpers for packed 4-bit codes and storage accounting.
 */
import { numelOf, type QuantizedTensor } from './quantized-tensor';

/**
 * The packed codes as little-endian u32 words, zero-padded to a whole word (WebGPU storage
 * buffers are arrays of u32). Element i lives in word i >> 3 at bit shift
 * ((i >> 1) & 3) * 8 + (i & 1 ? 0 : 4), 4 bits wide.
 *
 * @example
 * ```ts
 * const words = packedU32View(q) // device.queue.writeBuffer(buf, 0, words)
 * // WGSL: (words[i >> 3u] >> ((((i >> 1u) & 3u) * 8u) + select(4u, 0u, (i & 1u) == 1u))) & 0xfu
 * ```
 */
export function packedU32View(q: Pick<QuantizedTensor, 'packed'>): Uint32Array {
  const bytes = q.packed;
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  for (let i = 0; i < bytes.length; i++) words[i >> 2] |= bytes[i] << ((i & 3) * 8);
  return words;
}

/**
 * Storage bits per parameter: 4 for the codes plus the per-block absmax (32 bits, or 8 bits plus
 * a 32-bit nested absmax per 256 blocks with double quantization). The fixed per-tensor parts
 * (16- and 256-entry code books, offset) are left out, as in the QLoRA paper's accounting.
 *
 * @example
 * ```ts
 * bitsPerParameter(quantizeNF4(w))                        // 4.5     = 4 + 32/64
 * bitsPerParameter(quantizeNF4(w, { doubleQuant: true })) // ~4.127  = 4 + 8/64 + 32/(64*256)
 * ```
 */
export function bitsPerParameter(q: QuantizedTensor): number {
  const n = numelOf(q.shape);
  let bits = q.packed.length * 8;
  bits += q.doubleQuant ? q.absmax.length * 8 + q.nestedAbsmax.length * 32 : q.absmax.length * 32;
  return bits / n;
}
