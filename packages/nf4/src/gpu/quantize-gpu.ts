/**
 * 4-bit quantization on the GPU, bit for bit as the CPU `quantizeNF4` (and so bitsandbytes' CUDA
 * kernel): one workgroup per block finds absmax, then fround(1/absmax), fround(v * inv) and the
 * decision tree, all in exact integer IEEE arithmetic (see exact-float.wgsl.ts).
 */
// x: [...] f32 or f16 -> codes u32 [ceil(n/8)], absmax f32 [ceil(n/blocksize)]
import { ShapeError, ValueError, keep, tensor, type Tensor } from '@q/core';
import { launch, grid1d, empty } from '@q/core/kernel';
import { quantMapFor, type QuantType } from '../codebooks';
import { dynamicMap } from '../dynamic-map';
import { quantizeBlockwise8bit } from '../blockwise-8bit';
import type { OriginDtype } from '../origin-dtype';
import { NESTED_BLOCKSIZE } from '../quantized-tensor';
import { validateQuantizeOptions, type QuantizeOptions } from '../quantize-options';
import { EXACT_FLOAT_WGSL } from './exact-float.wgsl';
import { codeFunctionWgsl, thresholdTree } from './code-thresholds';
import { Nf4Weight, uploadNested } from './nf4-weight';

/** Options of {@link quantizeOnGpu}: those of `quantizeNF4` less `shape` (the tensor's). */
export type GpuQuantizeOptions = Omit<QuantizeOptions, 'shape'>;

const WG = 64;
type Kernel = Parameters<typeof launch>[0];
const kernels = new Map<string, Kernel>();

function quantizeKernel(quantType: QuantType, input: 'f32' | 'f16', dtype: OriginDtype, blocksize: number): Kernel {
  const key = `${quantType}/${input}/${dtype}/${blocksize}`;
  let k = kernels.get(key);
  if (k) return k;
  const raw = input === 'f32' ? 'x[i]' : 'fx_from_half((x[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu)';
  const round = dtype === 'bfloat16' ? 'fx_round_bf16(b)' : dtype === 'float16' && input === 'f32' ? 'fx_round_f16(b)' : 'b';
  k = {
    name: `nf4_quantize_${quantType}_${input}_${dtype}`,
    bindings: [
      { name: 'x', dtype: 'u32' },
      { name: 'codes', dtype: 'u32', access: 'read_write' },
      { name: 'absmax', dtype: 'u32', access: 'read_write' },
      { name: 'bad', dtype: 'u32', access: 'read_write', atomic: true },
    ],
    uniforms: [['n', 'u32'], ['blocks', 'u32']],
    wg: WG,
    header: `${EXACT_FLOAT_WGSL}
${codeFunctionWgsl(thresholdTree(quantType))}
const BS: u32 = ${blocksize}u;
var<workgroup> red: array<u32, ${WG}>;
// Element i as f32 bits rounded to the origin dtype; a non-finite value (or one that overflows
// that dtype) records its index in bad[0] and reads as 0.
fn load(i: u32) -> u32 {
  let b = ${raw};
  let r = ${round};
  if ((b & 0x7f800000u) == 0x7f800000u || (r & 0x7f800000u) == 0x7f800000u) { atomicMin(&bad[0], i); return 0u; }
  return r;
}`,
    body: `
  let blk = wid.x + wid.y * nwg.x;
  if (blk >= u.blocks) { return; }
  let start = blk * BS;
  let end = min(start + BS, u.n);
  var m = 0u;
  for (var i = start + lid.x; i < end; i += WG) { m = max(m, load(i) & 0x7fffffffu); }
  red[lid.x] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid.x < s) { red[lid.x] = max(red[lid.x], red[lid.x + s]); }
    workgroupBarrier();
  }
  let amax = red[0];
  if (lid.x == 0u) { absmax[blk] = amax; }
  let inv = fx_recip(amax);
  // An odd n pairs its last element with a padding zero (coded like any 0 of the block); bytes
  // past the data are zero.
  let nPad = u.n + (u.n & 1u);
  let w1 = (min(start + BS, nPad) + 7u) / 8u;
  for (var w = start / 8u + lid.x; w < w1; w += WG) {
    var word = 0u;
    for (var j = 0u; j < 8u; j++) {
      let i = w * 8u + j;
      if (i >= nPad) { break; }
      var v = 0u;
      if (i < u.n) { v = load(i); }
      word |= code4(fx_mul(v, inv)) << ((j >> 1u) * 8u + select(4u, 0u, (j & 1u) == 1u));
    }
    codes[w] = word;
  }`,
  };
  kernels.set(key, k);
  return k;
}

/**
 * Quantizes a GPU tensor (f32, or f16 whose origin dtype defaults to 'float16') to a GPU-resident
 * {@link Nf4Weight} with the same codes and absmax as `quantizeNF4` on the CPU. Throws ValueError
 * naming the first non-finite element. With `doubleQuant`, the absmax (n/blocksize floats) is
 * read back and its nested 8-bit quantization runs on the host: bitsandbytes' offset is a mean,
 * which must be summed in float64 to be reproducible, and the host already has the values then.
 *
 * @example
 * ```ts
 * const w = await quantizeOnGpu(dense, { blocksize: 64, doubleQuant: true }); // dense: [out, in] f32
 * ```
 */
export async function quantizeOnGpu(t: Tensor, opts: GpuQuantizeOptions = {}): Promise<Nf4Weight> {
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new ShapeError(`quantizeOnGpu: tensor must be f32 or f16, got ${t.dtype}`);
  const o = validateQuantizeOptions({ ...opts, dtype: opts.dtype ?? (t.dtype === 'f16' ? 'float16' : 'float32') });
  const n = t.size;
  if (n === 0) throw new ShapeError('quantizeOnGpu: cannot quantize an empty tensor');
  const blocks = Math.ceil(n / o.blocksize);
  const dev = t.dev;
  const codes = keep(empty([Math.ceil(n / 8)], 'u32', dev));
  const absmax = keep(empty([blocks], 'f32', dev));
  const bad = keep(tensor([0xffffffff], [1], { dtype: 'u32', dev }));
  const qmap = keep(tensor(quantMapFor(o.quantType), [16], { dev }));
  const owned = [codes, absmax, bad, qmap];
  try {
    launch(quantizeKernel(o.quantType, t.dtype, o.dtype, o.blocksize), [t, codes, absmax, bad], grid1d(blocks, 1), [n, blocks]);
    const first = (await bad.read())[0]!;
    if (first !== 0xffffffff) {
      throw new ValueError(`quantizeOnGpu: element ${first} of [${t.shape}] is not finite (or overflows ${o.dtype}); 4-bit quantization needs finite values`);
    }
    bad.release();
    const base = { shape: t.shape, quantType: o.quantType, blocksize: o.blocksize, dtype: o.dtype, quantMap: quantMapFor(o.quantType), codes, qmap };
    if (!o.doubleQuant) return Nf4Weight.fromParts({ ...base, absmax, nested: null });
    // As quantizeNF4: offset = fround(float64 mean), then 8-bit blockwise of absmax - offset.
    const am = (await absmax.read()) as Float32Array;
    absmax.release();
    let sum = 0;
    for (let i = 0; i < am.length; i++) sum += am[i]!;
    const offset = Math.fround(sum / am.length);
    const shifted = am.map((v) => v - offset);
    const map = dynamicMap();
    const q8 = quantizeBlockwise8bit(shifted, map, NESTED_BLOCKSIZE);
    return Nf4Weight.fromParts({ ...base, absmax: null, nested: uploadNested(q8.codes, q8.absmax, map, NESTED_BLOCKSIZE, offset, dev) });
  } catch (e) {
    for (const x of owned) x.release();
    throw e;
  }
}
