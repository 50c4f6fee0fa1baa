/**
 * 4-bit dequantization on the GPU to f32 (bit for bit as the CPU `dequantizeNF4`) or f16.
 */
// w: Nf4Weight [...shape] -> [...shape] f32 | f16
import { type Tensor } from '@q/core';
import { launch, grid1d, LINEAR_INDEX, empty } from '@q/core/kernel';
import type { OriginDtype } from '../origin-dtype';
import { EXACT_FLOAT_WGSL } from './exact-float.wgsl';
import type { Nf4Weight } from './nf4-weight';

type Kernel = Parameters<typeof launch>[0];
const kernels = new Map<string, Kernel>();

/**
 * WGSL `fn dq(q: u32, a: u32) -> u32`: f32 bits of code value q times absmax a, rounded to the
 * origin dtype. A product of normal size is exact from the hardware multiply (WGSL requires
 * correctly rounded f32 `*`); a tiny absmax, whose products may be subnormal and flushed to zero
 * by the device, takes the integer path.
 */
export function dequantWgsl(dtype: OriginDtype): string {
  const round = dtype === 'bfloat16' ? 'fx_round_bf16(p)' : dtype === 'float16' ? 'fx_round_f16(p)' : 'p';
  return `
fn dq(q: u32, a: u32) -> u32 {
  var p = 0u;
  if (((a >> 23u) & 0xffu) < 16u) { p = fx_mul(q, a); } else { p = bitcast<u32>(bitcast<f32>(q) * bitcast<f32>(a)); }
  return ${round};
}`;
}

function dequantKernel(out: 'f32' | 'f16', dtype: OriginDtype): Kernel {
  const key = `${out}/${dtype}`;
  let k = kernels.get(key);
  if (k) return k;
  const nib = (j: string) => `(word >> (((${j}) >> 1u) * 8u + select(4u, 0u, ((${j}) & 1u) == 1u))) & 15u`;
  const value = (j: string) => `dq(qmap[${nib(j)}], absmax[(w * 8u + (${j})) >> u.log2bs])`;
  const body =
    out === 'f32'
      ? `for (var j = 0u; j < 8u; j++) {
    let i = w * 8u + j;
    if (i >= u.n) { break; }
    y[i] = ${value('j')};
  }`
      : `for (var p = 0u; p < 4u; p++) {
    let o = w * 4u + p;
    if (o * 2u >= u.n) { break; }
    let lo = fx_to_half(fx_round_f16(${value('2u * p')}));
    var hi = 0u;
    if (o * 2u + 1u < u.n) { hi = fx_to_half(fx_round_f16(${value('2u * p + 1u')})); }
    y[o] = lo | (hi << 16u);
  }`;
  k = {
    name: `nf4_dequantize_${out}_${dtype}`,
    bindings: [
      { name: 'codes', dtype: 'u32' },
      { name: 'absmax', dtype: 'u32' },
      { name: 'qmap', dtype: 'u32' },
      { name: 'y', dtype: 'u32', access: 'read_write' },
    ],
    uniforms: [['n', 'u32'], ['words', 'u32'], ['log2bs', 'u32']],
    header: EXACT_FLOAT_WGSL + dequantWgsl(dtype),
    // One thread per code word: 8 values.
    body: `let w = ${LINEAR_INDEX}; if (w >= u.words) { return; }
  let word = codes[w];
  ${body}`,
  };
  kernels.set(key, k);
  return k;
}

/**
 * Dequantizes a GPU 4-bit weight to a dense tensor of its shape: f32 values identical to
 * `dequantizeNF4` on the CPU, or f16 (those values rounded to nearest even). f16 output is written
 * as raw half bits, so it needs no shader-f16; consumers of f16 tensors do.
 *
 * @example
 * ```ts
 * const dense = dequantizeOnGpu(w, 'f16'); // [out, in] f16
 * ```
 */
export function dequantizeOnGpu(w: Nf4Weight, dtype: 'f32' | 'f16' = 'f32'): Tensor {
  w.check();
  const n = w.numel;
  const y = empty([...w.shape], dtype, w.codes.dev);
  const am = w.absmaxF32();
  const words = Math.ceil(n / 8);
  launch(dequantKernel(dtype, w.dtype), [w.codes, am, w.qmap, y], grid1d(words), [n, words, Math.log2(w.blocksize)]);
  am.release();
  return y;
}
