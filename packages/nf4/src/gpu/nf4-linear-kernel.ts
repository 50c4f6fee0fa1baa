/**
 * The WGSL of the fused NF4 linear, built like core's dense tiled matmul (ops/matmul.ts): 256
 * threads compute a B x B tile of the output (B = 64: 4x4 per thread; B = 128: 8x8), K in steps
 * of 16 through K-major vec4 shared tiles padded by one vec4 per row against bank conflicts. While
 * one step computes from shared memory, the next step's activations, raw code words and absmax
 * are already loaded into registers; codes are decoded (nibble -> table value · absmax, rounded to
 * the origin dtype) only when they are stored into shared memory. Accumulation is f32.
 */
// fwd: a [M, K] (x), W [N, K] -> y [M, N] = a·Wᵀ (reduce over K)
// bwd: a [M, N] (dy), W [N, K] -> y [M, K] = a·W  (reduce over N)
// Uniforms: M rows of a; R reduction length; C output columns; K row length of W; log2 blocksize.
import type { launch } from '@q/core/kernel';
import type { OriginDtype } from '../origin-dtype';
import { EXACT_FLOAT_WGSL } from './exact-float.wgsl';

export type Kernel = Parameters<typeof launch>[0];
export type Mode = 'fwd' | 'bwd';
/** Output tile edge: 64 (4x4 per thread) or 128 (8x8 per thread). */
export type TileSize = 64 | 128;

export const BK = 16;
const WG = 256; // 16 x 16 threads

/** Workgroup memory of a tile: two [BK][B/4 + 1] vec4<f32> tiles and the 16-entry code table. */
export function sharedBytes(B: TileSize): number {
  return 2 * BK * (B + 4) * 4 + 16 * 4;
}

/** Round a decoded weight to its origin dtype, as dequantizeNF4 does. */
function originRound(dtype: OriginDtype): string {
  if (dtype === 'float32') return 'fn wv(q: f32, a: f32) -> f32 { return q * a; }';
  const fn = dtype === 'bfloat16' ? 'fx_round_bf16' : 'fx_round_f16';
  return `fn wv(q: f32, a: f32) -> f32 { return bitcast<f32>(${fn}(bitcast<u32>(q * a))); }`;
}

const rep = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n    ');

/**
 * The W tile: fwd Bs[k][n] = W[n0 + n, k0 + k]; bwd Bs[k][n] = W[k0 + k, n0 + n]. `aligned`
 * (K % 4 == 0): each load unit is 4 values consecutive along a row of W, one half-word of codes
 * under one absmax (blocks are multiples of 4 and the unit starts at a multiple of 4), all in
 * range or all out. Otherwise each unit is one value. Out of range, code word and absmax are 0:
 * the decoded ±0 meets a zero activation or lands in an output that is never written.
 */
function wTile(mode: Mode, aligned: boolean, B: TileSize, PB: number): { fetch: string; store: string; decl: string } {
  const per = aligned ? 4 : 1;
  const LW = (B * BK) / per / WG; // load units per thread
  // Unit e -> (r: k within the tile, c: n within the tile), neighbouring threads along a row of W.
  const idx =
    mode === 'fwd'
      ? `let c = e / ${BK / per}u; let r = (e % ${BK / per}u) * ${per}u;`
      : `let r = e / ${B / per}u; let c = (e % ${B / per}u) * ${per}u;`;
  const pos = mode === 'fwd' ? `let row = n0 + c; let col = k0 + r; let ok = row < u.C && col < u.R;` : `let row = k0 + r; let col = n0 + c; let ok = row < u.R && col < u.C;`;
  // aligned: the unit's half-word, low byte first; unaligned: the unit's nibble (even index high).
  const word = aligned
    ? `codes[flat >> 3u] >> (((flat >> 1u) & 3u) * 8u)`
    : `(codes[flat >> 3u] >> (((flat >> 1u) & 3u) * 8u + select(4u, 0u, (flat & 1u) == 1u))) & 15u`;
  const fetch = rep(
    LW,
    (l) => `{ let e = lid.x + ${l * WG}u; ${idx} ${pos}
      rw[${l}] = 0u; rs[${l}] = 0.0;
      if (ok) { let flat = row * u.K + col; rw[${l}] = ${word}; rs[${l}] = absmax[flat >> u.log2bs]; } }`,
  );
  const store = rep(LW, (l) => {
    const head = `{ let e = lid.x + ${l * WG}u; ${idx} let w = rw[${l}]; let s = rs[${l}];`;
    if (!aligned) return `${head} Bs[r * ${PB}u + c / 4u][c % 4u] = wv(lut[w], s); }`;
    const v = `vec4<f32>(wv(lut[(w >> 4u) & 15u], s), wv(lut[w & 15u], s), wv(lut[(w >> 12u) & 15u], s), wv(lut[(w >> 8u) & 15u], s))`;
    // fwd: the 4 values run along k (4 rows of Bs); bwd: along n (one vec4 of Bs, c % 4 == 0).
    return mode === 'fwd'
      ? `${head} let v = ${v};
      ${rep(4, (j) => `Bs[(r + ${j}u) * ${PB}u + c / 4u][c % 4u] = v[${j}];`)} }`
      : `${head} Bs[r * ${PB}u + c / 4u] = ${v}; }`;
  });
  return { fetch, store, decl: `var rw: array<u32, ${LW}>;\n  var rs: array<f32, ${LW}>;` };
}

export function nf4LinearKernel(mode: Mode, dtype: 'f32' | 'f16', origin: OriginDtype, aligned: boolean, B: TileSize): Kernel {
  const PA = B / 4 + 1;
  const PB = B / 4 + 1;
  const LA = (B * BK) / WG; // activations per thread per step
  const R4 = B / 64; // vec4 chunks per thread along each output axis
  const TR = R4 * 4; // output rows per thread
  const w = wTile(mode, aligned, B, PB);
  // The activation tile As[k][m] = a[m0 + m, k0 + k], read along rows of a.
  const fetchA = rep(LA, (l) => `{ let e = lid.x + ${l * WG}u; let mm = e / ${BK}u; let kk = e % ${BK}u; let gm = m0 + mm; let gk = k0 + kk;
      ra[${l}] = 0.0; if (gm < u.M && gk < u.R) { ra[${l}] = f32(a[gm * u.R + gk]); } }`);
  const storeA = rep(LA, (l) => `{ let e = lid.x + ${l * WG}u; let mm = e / ${BK}u; let kk = e % ${BK}u; As[kk * ${PA}u + mm / 4u][mm % 4u] = ra[${l}]; }`);
  // Unrolled outer product of this thread's rows and columns at one k: per-thread arrays indexed
  // by constants only, so they stay in registers.
  const fma: string[] = [];
  for (let c = 0; c < R4; c++) fma.push(`let a${c} = As[k * ${PA}u + ${c * 16}u + ty];`);
  for (let c = 0; c < R4; c++) fma.push(`let b${c} = Bs[k * ${PB}u + ${c * 16}u + tx];`);
  for (let i = 0; i < TR; i++) for (let j = 0; j < R4; j++) fma.push(`acc[${i * R4 + j}] = fma(vec4(a${i >> 2}[${i & 3}]), b${j}, acc[${i * R4 + j}]);`);
  const rowOf = (i: number) => `${(i >> 2) * 64 + (i & 3)}u + ty * 4u`;
  const colOf = (q: number) => `${(q >> 2) * 64 + (q & 3)}u + tx * 4u`;
  return {
    name: `nf4_linear_${mode}_${dtype}${B === 128 ? '_t128' : ''}`,
    bindings: [
      { name: 'a', dtype },
      { name: 'codes', dtype: 'u32' },
      { name: 'absmax', dtype: 'f32' },
      { name: 'qmap', dtype: 'f32' },
      { name: 'y', dtype, access: 'read_write' },
    ],
    uniforms: [['M', 'u32'], ['R', 'u32'], ['C', 'u32'], ['K', 'u32'], ['log2bs', 'u32']],
    header: `${origin === 'float32' ? '' : EXACT_FLOAT_WGSL}
${originRound(origin)}
var<workgroup> As: array<vec4<f32>, ${BK * PA}>;
var<workgroup> Bs: array<vec4<f32>, ${BK * PB}>;
var<workgroup> lut: array<f32, 16>;`,
    body: `
  let tx = lid.x % 16u; let ty = lid.x / 16u;
  let m0 = wid.y * ${B}u; let n0 = wid.x * ${B}u;
  var acc: array<vec4<f32>, ${TR * R4}>;
  var ra: array<f32, ${LA}>;
  ${w.decl}
  if (lid.x < 16u) { lut[lid.x] = qmap[lid.x]; }
  var k0 = 0u;
  ${fetchA}
  ${w.fetch}
  workgroupBarrier();
  while (k0 < u.R) {
    ${storeA}
    ${w.store}
    workgroupBarrier();
    k0 += ${BK}u;
    if (k0 < u.R) {
    ${fetchA}
    ${w.fetch}
    }
    for (var k = 0u; k < ${BK}u; k++) {
      ${fma.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${rep(TR, (i) => `if (m0 + ${rowOf(i)} < u.M) {
    let row = (m0 + ${rowOf(i)}) * u.C;
    ${rep(R4 * 4, (q) => `if (n0 + ${colOf(q)} < u.C) { y[row + n0 + ${colOf(q)}] = ${dtype}(acc[${i * R4 + (q >> 2)}][${q & 3}]); }`)}
  }`)}`,
  };
}
