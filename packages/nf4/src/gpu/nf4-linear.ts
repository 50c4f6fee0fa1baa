/**
 * y = x·Wᵀ with W a 4-bit weight read directly: each 64x16 tile of W is decoded into shared
 * memory (code -> value via a 16-entry table, times the block's absmax) and multiplied as in
 * core's tiled matmul (64x64 outputs per workgroup, 4x4 per thread, f32 accumulation). No dense W
 * is ever materialised. Backward: dX = dY·W with the same decoding; W is frozen (no gradient).
 */
// x: [..., K] (f32 or f16), w: Nf4Weight [N, K] -> y: [..., N]
// backward: gy [..., N] -> gx [..., K]
import { defineOp, ShapeError, launch, empty, type CpuTensor, type Tensor } from '@q/core';
import type { OriginDtype } from '../origin-dtype';
import { dequantizeNF4 } from '../dequantize';
import { EXACT_FLOAT_WGSL } from './exact-float.wgsl';
import type { Nf4Weight } from './nf4-weight';

const TILE = 64;
const TK = 16;

type Kernel = Parameters<typeof launch>[0];
type Mode = 'fwd' | 'bwd';
const kernels = new Map<string, Kernel>();

/**
 * The W tile loader. fwd: Bs[r][c] = W[n0 + c, k0 + r] (reduce over K); bwd: Bs[r][c] =
 * W[k0 + r, n0 + c] (reduce over N). Each thread decodes 4 elements consecutive along a row of W;
 * when K % 4 == 0 they share one u32 word and one absmax.
 */
function loadW(mode: Mode, aligned: boolean): string {
  const pos =
    mode === 'fwd'
      ? `let c = lid.x / 4u; let r = (lid.x % 4u) * 4u; let row = n0 + c; let col = k0 + r;
     let ok = row < u.C && col < u.R;`
      : `let r = lid.x / 16u; let c = (lid.x % 16u) * 4u; let row = k0 + r; let col = n0 + c;
     let ok = row < u.R && col < u.C;`;
  const dst = (j: string) => (mode === 'fwd' ? `Bs[(r + ${j}) * ${TILE}u + c]` : `Bs[r * ${TILE}u + c + ${j}]`);
  const inRow = mode === 'fwd' ? `col + j < u.R` : `col + j < u.C`;
  if (aligned) {
    // K % 4 == 0 and col % 4 == 0: the 4 values are all in range or all out, in one half-word.
    return `{ ${pos}
     var v = vec4<f32>(0.0);
     if (ok) {
       let flat = row * u.K + col;
       let word = codes[flat >> 3u] >> (((flat >> 1u) & 3u) * 8u);
       let a = absmax[flat >> u.log2bs];
       v = vec4<f32>(wv(lut[(word >> 4u) & 15u], a), wv(lut[word & 15u], a), wv(lut[(word >> 12u) & 15u], a), wv(lut[(word >> 8u) & 15u], a));
     }
     for (var j = 0u; j < 4u; j++) { ${dst('j')} = v[j]; } }`;
  }
  return `{ ${pos}
     for (var j = 0u; j < 4u; j++) {
       var v = 0.0;
       if (${mode === 'fwd' ? 'row < u.C' : 'row < u.R'} && ${inRow}) {
         let flat = row * u.K + col + j;
         let nib = (codes[flat >> 3u] >> (((flat >> 1u) & 3u) * 8u + select(4u, 0u, (flat & 1u) == 1u))) & 15u;
         v = wv(lut[nib], absmax[flat >> u.log2bs]);
       }
       ${dst('j')} = v;
     } }`;
}

/** Round a decoded weight to its origin dtype, as dequantizeNF4 does. */
function originRound(dtype: OriginDtype): string {
  if (dtype === 'float32') return 'fn wv(q: f32, a: f32) -> f32 { return q * a; }';
  const fn = dtype === 'bfloat16' ? 'fx_round_bf16' : 'fx_round_f16';
  return `fn wv(q: f32, a: f32) -> f32 { return bitcast<f32>(${fn}(bitcast<u32>(q * a))); }`;
}

function kernel(mode: Mode, dtype: 'f32' | 'f16', origin: OriginDtype, aligned: boolean): Kernel {
  const key = `${mode}/${dtype}/${origin}/${aligned}`;
  let k = kernels.get(key);
  if (k) return k;
  k = {
    name: `nf4_linear_${mode}_${dtype}`,
    bindings: [
      { name: 'a', dtype },
      { name: 'codes', dtype: 'u32' },
      { name: 'absmax', dtype: 'f32' },
      { name: 'qmap', dtype: 'f32' },
      { name: 'y', dtype, access: 'read_write' },
    ],
    // M rows of a; R: reduction length; C: output columns; K: row length of W; log2 blocksize.
    uniforms: [['M', 'u32'], ['R', 'u32'], ['C', 'u32'], ['K', 'u32'], ['log2bs', 'u32']],
    header: `${origin === 'float32' ? '' : EXACT_FLOAT_WGSL}
${originRound(origin)}
var<workgroup> As: array<f32, ${TILE * TK}>;
var<workgroup> Bs: array<f32, ${TILE * TK}>;
var<workgroup> lut: array<f32, 16>;`,
    body: `
  if (lid.x < 16u) { lut[lid.x] = qmap[lid.x]; }
  workgroupBarrier();
  let tx = lid.x % 16u; let ty = lid.x / 16u;
  let m0 = wid.y * ${TILE}u; let n0 = wid.x * ${TILE}u;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < u.R; k0 += ${TK}u) {
    for (var l = 0u; l < 4u; l++) {
      let e = lid.x + l * 256u;
      let mm = e / ${TK}u; let kk = e % ${TK}u; let gm = m0 + mm; let gk = k0 + kk;
      var v = 0.0;
      if (gm < u.M && gk < u.R) { v = f32(a[gm * u.R + gk]); }
      As[kk * ${TILE}u + mm] = v;
    }
    ${loadW(mode, aligned)}
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      let av = vec4<f32>(As[k * ${TILE}u + ty * 4u], As[k * ${TILE}u + ty * 4u + 1u], As[k * ${TILE}u + ty * 4u + 2u], As[k * ${TILE}u + ty * 4u + 3u]);
      let bv = vec4<f32>(Bs[k * ${TILE}u + tx * 4u], Bs[k * ${TILE}u + tx * 4u + 1u], Bs[k * ${TILE}u + tx * 4u + 2u], Bs[k * ${TILE}u + tx * 4u + 3u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i * 4u] += av[i] * bv.x; acc[i * 4u + 1u] += av[i] * bv.y;
        acc[i * 4u + 2u] += av[i] * bv.z; acc[i * 4u + 3u] += av[i] * bv.w;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let gm = m0 + ty * 4u + i;
    if (gm >= u.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let gn = n0 + tx * 4u + j;
      if (gn < u.C) { y[gm * u.C + gn] = ${dtype}(acc[i * 4u + j]); }
    }
  }`,
  };
  kernels.set(key, k);
  return k;
}

/** Runs the fused kernel: fwd a [M, K] -> [M, N]; bwd a [M, N] -> [M, K]. */
function fused(mode: Mode, a: Tensor, w: Nf4Weight, absmax: Tensor): Tensor {
  const [N, K] = w.shape as [number, number];
  const M = a.shape[0]!;
  const [R, C] = mode === 'fwd' ? [K, N] : [N, K];
  if (a.dtype !== 'f32' && a.dtype !== 'f16') throw new ShapeError(`nf4Linear: activations must be f32 or f16, got ${a.dtype}`);
  const y = empty([M, C], a.dtype, a.dev);
  if (M === 0 || C === 0) return y;
  launch(kernel(mode, a.dtype, w.dtype, K % 4 === 0), [a, w.codes, absmax, w.qmap, y], [Math.ceil(C / TILE), Math.ceil(M / TILE)], [
    M,
    R,
    C,
    K,
    Math.log2(w.blocksize),
  ]);
  return y;
}

export interface Nf4LinearAttrs {
  w: Nf4Weight;
}

// Float64 reference: dequantize on the CPU (bit-exact bitsandbytes), then x·Wᵀ in float64.
// Inputs: x [M, K], codes (u32 words), absmax (f32 per block), qmap.
function nf4LinearCpu([x, codes, absmax]: CpuTensor[], { w }: Nf4LinearAttrs): CpuTensor {
  const [N, K] = w.shape as [number, number];
  const words = Uint32Array.from(codes!.data);
  const dense = dequantizeNF4({
    doubleQuant: false,
    quantType: w.quantType,
    blocksize: w.blocksize,
    shape: [N, K],
    dtype: w.dtype,
    packed: new Uint8Array(words.buffer, 0, Math.ceil((N * K) / 2)),
    absmax: Float32Array.from(absmax!.data),
    quantMap: w.quantMap,
  });
  const M = x!.shape[0]!;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x!.data[m * K + k]! * dense[n * K + k]!;
      out[m * N + n] = s;
    }
  return { shape: [M, N], data: out };
}

const nf4LinearOp = defineOp<Nf4LinearAttrs>({
  name: 'nf4Linear',
  cpu: nf4LinearCpu,
  gpu: ([x, , absmax], { w }) => fused('fwd', x!, w, absmax!),
  // Nothing is saved: the codes live in w, and a double-quantized absmax is decoded again rather
  // than held from forward to backward (that would cost the 4.5 bits/parameter it saves).
  save: () => [],
  // y = x·Wᵀ  =>  dx = dy·W. W is frozen: no gradient for codes, absmax or the code map.
  backward: (gy, { attrs: { w } }) => [nf4LinearBackward(gy, w), null, null, null],
});

/**
 * A linear layer over a 4-bit weight without bias: y = x·Wᵀ, reading the packed codes directly.
 * Activations are f32, or f16 (stored f16, accumulated in f32) on devices with shader-f16.
 *
 * @example
 * ```ts
 * const w = Nf4Weight.upload(quantizeNF4(data, { shape: [out, inp] }));
 * const y = nf4Linear(x, w); // x: [B, T, inp] -> [B, T, out]; backward gives x.grad
 * ```
 */
export function nf4Linear(x: Tensor, w: Nf4Weight): Tensor {
  w.check();
  if (w.shape.length !== 2) throw new ShapeError(`nf4Linear: weight must be [out, in], got [${w.shape}]`);
  const [N, K] = w.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== K) throw new ShapeError(`nf4Linear: x [${x.shape}] does not end in the weight's in-features ${K} (weight [${N}, ${K}])`);
  // Views made here are released here; the tape keeps them as paths for the gradient.
  const x2 = x.rank === 2 ? x : x.reshape([-1, K]);
  const am = w.absmaxF32();
  try {
    const y = nf4LinearOp([x2, w.codes, am, w.qmap], { w });
    if (x.rank === 2) return y;
    const out = y.reshape([...x.shape.slice(0, -1), N]);
    y.release();
    return out;
  } finally {
    if (x2 !== x) x2.release();
    am.release();
  }
}

/**
 * The input gradient of {@link nf4Linear} without autograd: dX = dY·W, reading NF4 directly.
 *
 * @example
 * ```ts
 * const gx = nf4LinearBackward(gy, w); // gy: [..., out] -> [..., in]
 * ```
 */
export function nf4LinearBackward(gy: Tensor, w: Nf4Weight): Tensor {
  w.check();
  const [N, K] = w.shape as [number, number];
  if (gy.rank < 1 || gy.shape[gy.rank - 1] !== N) throw new ShapeError(`nf4LinearBackward: dy [${gy.shape}] does not end in the weight's out-features ${N}`);
  const g2 = gy.rank === 2 ? gy : gy.reshape([-1, N]);
  const am = w.absmaxF32();
  const gx = fused('bwd', g2, w, am);
  am.release();
  if (g2 !== gy) g2.release();
  if (gy.rank === 2) return gx;
  const out = gx.reshape([...gy.shape.slice(0, -1), K]);
  gx.release();
  return out;
}
