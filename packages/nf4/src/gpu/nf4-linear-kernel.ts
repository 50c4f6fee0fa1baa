/**
 * The WGSL of the fused NF4 linear: core's GEMM template (ops/matmul-template.ts) with an NF4
 * load hook for W. While one step computes from workgroup memory, the next step's activations,
 * raw code words and absmax are already loaded into registers; codes are decoded (nibble -> table
 * value · absmax, rounded to the origin dtype) only when they are stored into workgroup memory.
 * Accumulation is f32.
 */
// fwd: a [M, K] (x), W [N, K] -> y [M, N] = a·Wᵀ (reduce over K)
// bwd: a [M, N] (dy), W [N, K] -> y [M, K] = a·W  (reduce over N)
// Uniforms: M rows of a; R reduction length; C output columns; K row length of W; log2 blocksize.
import { denseLoad, gemmKernel, gemmSharedBytes, tileShape, type launch, type GemmTile, type TileLoad } from '@q/core/kernel';
import type { OriginDtype } from '../origin-dtype';
import { EXACT_FLOAT_WGSL } from './exact-float.wgsl';

export type Kernel = Parameters<typeof launch>[0];
export type Mode = 'fwd' | 'bwd';
/** Output tile edge: 64 (4x4 per thread) or 128 (8x8 per thread). */
export type TileSize = 64 | 128;

/** Workgroup memory of a tile: its operand tiles (see core's gemmSharedBytes) and, on CUDA cores, the 16-entry code table. */
export function sharedBytes(tile: GemmTile): number {
  return tile.kind === 'tensor' ? gemmSharedBytes(tile, 'f16') : gemmSharedBytes(tile, 'f32') + 16 * 4;
}

/** Round a decoded weight to its origin dtype, as dequantizeNF4 does. */
function originRound(dtype: OriginDtype): string {
  if (dtype === 'float32') return 'fn wv(q: f32, a: f32) -> f32 { return q * a; }';
  const fn = dtype === 'bfloat16' ? 'fx_round_bf16' : 'fx_round_f16';
  return `fn wv(q: f32, a: f32) -> f32 { return bitcast<f32>(${fn}(bitcast<u32>(q * a))); }`;
}


/**
 * The W operand's load hook: the template's B tile (k, j) is W[n0 + j, k0 + k] (fwd) or
 * W[k0 + k, n0 + j] (bwd). `aligned` (K % 4 == 0): each load unit is 4 values consecutive along a
 * row of W, one half-word of codes under one absmax (blocks are multiples of 4 and the unit starts
 * at a multiple of 4), all in range or all out. Otherwise each unit is one value. Out of range,
 * code word and absmax are 0: the decoded ±0 meets a zero activation or lands in an output that
 * is never written. Raw code words and absmax are prefetched; decoding (nibble -> table value ·
 * absmax, rounded to the origin dtype) happens when the unit is stored into workgroup memory.
 */
function wLoad(mode: Mode, aligned: boolean, lut: string): TileLoad {
  // gi runs over the output columns (N fwd, K bwd), gk over the reduction (K fwd, N bwd).
  const pos = mode === 'fwd' ? 'let row = gi; let col = gk;' : 'let row = gk; let col = gi;';
  // aligned: the unit's half-word, low byte first; unaligned: the unit's nibble (even index high).
  const word = aligned
    ? `codes[flat >> 3u] >> (((flat >> 1u) & 3u) * 8u)`
    : `(codes[flat >> 3u] >> (((flat >> 1u) & 3u) * 8u + select(4u, 0u, (flat & 1u) == 1u))) & 15u`;
  return {
    per: aligned ? 4 : 1,
    along: mode === 'fwd' ? 'k' : 'mn',
    regs: [['rw', 'u32'], ['rs', 'f32']],
    fetch: (l) => `${pos} rw[${l}] = 0u; rs[${l}] = 0.0;
      if (ok) { let flat = row * u.K + col; rw[${l}] = ${word}; rs[${l}] = absmax[flat >> u.log2bs]; }`,
    value: (l, S) =>
      aligned
        ? `vec4<${S}>(vec4<f32>(wv(${lut}[(rw[${l}] >> 4u) & 15u], rs[${l}]), wv(${lut}[rw[${l}] & 15u], rs[${l}]), wv(${lut}[(rw[${l}] >> 12u) & 15u], rs[${l}]), wv(${lut}[(rw[${l}] >> 8u) & 15u], rs[${l}])))`
        : `${S}(wv(${lut}[rw[${l}]], rs[${l}]))`,
  };
}

/**
 * The fused kernel on core's GEMM template: the activations are a dense load hook (vec4 when the
 * reduction length is a multiple of 4), W the NF4 load hook above, the store hook a plain store.
 * `tile`: a CUDA-core tile (f32 workgroup tiles, as the dequantize-then-matmul reference computes)
 * or a tensor-core tile (f16 activations only; weights rounded to f16 in workgroup memory).
 */
export function nf4LinearKernel(mode: Mode, dtype: 'f32' | 'f16', origin: OriginDtype, aligned: boolean, tile: GemmTile, vecA: boolean, split = false): Kernel {
  const { BM, BN, threads } = tileShape(tile);
  const tag = (tile.kind === 'cuda' ? (tile.BM === 128 ? '_t128' : '') : `_tc${BM}x${BN}_${threads}`) + (split ? '_splitk' : '');
  // Tensor-core tiles hold weights in f16: an f16-origin weight is rounded once by the f16
  // conversion (round to nearest even on the GPUs that have subgroup matrices) instead of the
  // exact software rounding; the code table is read from its buffer (L1-resident), which leaves
  // the workgroup memory to the tiles (the 256-thread tile uses all 48 KiB of an H200's).
  const tc = tile.kind === 'tensor';
  const round = tc && origin === 'float16' ? 'fn wv(q: f32, a: f32) -> f32 { return q * a; }' : originRound(origin);
  const exact = !(tc && origin === 'float16') && origin !== 'float32';
  return gemmKernel({
    name: `nf4_linear_${mode}_${dtype}${tag}`,
    bindings: [
      { name: 'a', dtype, vec4: vecA },
      { name: 'codes', dtype: 'u32' },
      { name: 'absmax', dtype: 'f32' },
      { name: 'qmap', dtype: 'f32' },
      // Split-K: workgroup layer z writes its f32 partial product to slice z.
      { name: 'y', dtype: split ? 'f32' : dtype, access: 'read_write' },
    ],
    uniforms: [['M', 'u32'], ['R', 'u32'], ['C', 'u32'], ['K', 'u32'], ['log2bs', 'u32'], ['kPer', 'u32']],
    M: 'u.M',
    N: 'u.C',
    kStart: split ? 'wid.z * u.kPer' : undefined,
    kEnd: split ? 'min(u.R, (wid.z + 1u) * u.kPer)' : 'u.R',
    a: denseLoad({ binding: 'a', dtype, per: vecA ? 4 : 1, along: 'k', index: 'gi * u.R + gk' }),
    b: wLoad(mode, aligned, tc ? 'qmap' : 'lut'),
    header: `${exact ? EXACT_FLOAT_WGSL : ''}
${round}
${tc ? '' : 'var<workgroup> lut: array<f32, 16>;'}`,
    prologue: tc ? '' : 'if (lid.x < 16u) { lut[lid.x] = qmap[lid.x]; }',
    store: (row, col, v) => (split ? `y[wid.z * u.M * u.C + ${row} * u.C + ${col}] = ${v};` : `y[${row} * u.C + ${col}] = ${dtype}(${v});`),
    shared: tile.kind === 'tensor' ? 'f16' : 'f32',
    tile,
  });
}
