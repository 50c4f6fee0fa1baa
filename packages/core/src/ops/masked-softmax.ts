/**
 * Attention's masked softmax: y = softmax(scale·x + mask) over the last axis. Key s of query t is
 * masked when it is padding (mask[b, s] == 0), in the future (causal: s > t + kvLen − T, query t
 * sitting at absolute position kvLen − T + t) or not yet filled (s ≥ kvLen). A row whose keys are
 * all masked (a left-padding query) becomes zeros, not NaN.
 */
// x: [B, H, T, S] scores, mask: [B, Smax] i32 with Smax ≥ S (1 = attend); out: [B, H, T, S]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { ShapeError } from '../errors';
import { ROW_MAX_SUM } from './softmax';

export interface MaskedSoftmaxAttrs {
  scale: number;
  causal: boolean;
  /** Valid keys: the first kvLen of S (default S). */
  kvLen: number;
}

interface Geo {
  B: number;
  H: number;
  T: number;
  S: number;
  Smax: number;
}

function geometry(x: readonly number[], mask: readonly number[] | undefined, a: MaskedSoftmaxAttrs): Geo {
  if (x.length !== 4) throw new ShapeError(`maskedSoftmax: scores [${x}] must be [B, H, T, S]`);
  const [B, H, T, S] = x as [number, number, number, number];
  if (mask && (mask.length !== 2 || mask[0] !== B || mask[1]! < S)) throw new ShapeError(`maskedSoftmax: mask [${mask}] must be [${B}, ≥ ${S}]`);
  if (!Number.isInteger(a.kvLen) || a.kvLen < 0 || a.kvLen > S) throw new ShapeError(`maskedSoftmax: kvLen ${a.kvLen} must be in [0, S=${S}]`);
  return { B, H, T, S, Smax: mask ? mask[1]! : S };
}

const NEG = -1e30;

const UNIFORMS: [string, 'u32' | 'i32' | 'f32'][] = [
  ['rows', 'u32'],
  ['H', 'u32'],
  ['T', 'u32'],
  ['S', 'u32'],
  ['Smax', 'u32'],
  ['kvLen', 'u32'],
  ['offset', 'i32'],
  ['scale', 'f32'],
];
const uvals = (g: Geo, a: MaskedSoftmaxAttrs) => [g.B * g.H * g.T, g.H, g.T, g.S, g.Smax, a.kvLen, a.kvLen - g.T, a.scale];

function maskedSoftmaxGpu(x: Tensor, mask: Tensor | undefined, a: MaskedSoftmaxAttrs): Tensor {
  const g = geometry(x.shape, mask?.shape, a);
  const y = empty(x.shape, x.dtype, x.dev);
  const rows = g.B * g.H * g.T;
  // One workgroup per row; logit() is the masked, scaled score (NEG where masked).
  const logit = `fn logit(b: u32, t: u32, s: u32, base: u32) -> f32 {
  if (s >= u.kvLen) { return ${NEG}; }
  ${a.causal ? `if (i32(s) > i32(t) + u.offset) { return ${NEG}; }` : ''}
  ${mask ? `if (m[b * u.Smax + s] == 0) { return ${NEG}; }` : ''}
  return u.scale * f32(x[base + s]);
}`;
  launch(
    {
      name: 'masked_softmax',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'm', dtype: mask?.dtype ?? x.dtype },
        { name: 'y', dtype: x.dtype, access: 'read_write' },
      ],
      uniforms: UNIFORMS,
      header: `${ROW_MAX_SUM}\n${logit}`,
      body: `let row = wid.x + wid.y * nwg.x; if (row >= u.rows) { return; }
let t = row % u.T; let b = row / (u.T * u.H);
let base = row * u.S;
var mx = ${NEG};
for (var s = lid.x; s < u.S; s += WG) { mx = max(mx, logit(b, t, s, base)); }
mx = reduce_max(mx, lid.x);
// Every key masked: attend to nothing.
let dead = mx <= ${NEG / 2};
var sm = 0.0;
for (var s = lid.x; s < u.S; s += WG) { sm += exp(logit(b, t, s, base) - mx); }
sm = reduce_sum(sm, lid.x);
for (var s = lid.x; s < u.S; s += WG) { y[base + s] = ${WGSL_TYPE[x.dtype]}(select(exp(logit(b, t, s, base) - mx) / sm, 0.0, dead)); }`,
    },
    [x, mask ?? x, y],
    grid1d(rows, 1),
    uvals(g, a),
  );
  return y;
}

/** gx = scale · y · (gy − Σ gy·y), one workgroup per row; masked keys (y = 0) get 0. */
function maskedSoftmaxBackward(gy: Tensor, y: Tensor, scale: number): Tensor {
  const S = y.shape[y.rank - 1]!;
  const rows = y.size / S;
  const gx = empty(y.shape, y.dtype, y.dev);
  launch(
    {
      name: 'masked_softmax_bwd',
      bindings: [
        { name: 'gy', dtype: gy.dtype },
        { name: 'y', dtype: y.dtype },
        { name: 'gx', dtype: y.dtype, access: 'read_write' },
      ],
      uniforms: [
        ['rows', 'u32'],
        ['S', 'u32'],
        ['scale', 'f32'],
      ],
      header: ROW_MAX_SUM,
      body: `let row = wid.x + wid.y * nwg.x; if (row >= u.rows) { return; }
let base = row * u.S;
var dot = 0.0;
for (var s = lid.x; s < u.S; s += WG) { dot += f32(gy[base + s]) * f32(y[base + s]); }
dot = reduce_sum(dot, lid.x);
for (var s = lid.x; s < u.S; s += WG) { gx[base + s] = ${WGSL_TYPE[y.dtype]}(u.scale * f32(y[base + s]) * (f32(gy[base + s]) - dot)); }`,
    },
    [gy, y, gx],
    grid1d(rows, 1),
    [rows, S, scale],
  );
  return gx;
}

function maskedSoftmaxCpu([x, mask]: CpuTensor[], a: MaskedSoftmaxAttrs): CpuTensor {
  const { B, H, T, S, Smax } = geometry(x!.shape, mask?.shape, a);
  const out = new Float64Array(x!.data.length);
  const z = new Float64Array(S);
  for (let row = 0; row < B * H * T; row++) {
    const t = row % T;
    const b = Math.floor(row / (T * H));
    let mx = -Infinity;
    for (let s = 0; s < S; s++) {
      const ok = s < a.kvLen && (!a.causal || s <= t + a.kvLen - T) && (!mask || mask.data[b * Smax + s] !== 0);
      z[s] = ok ? a.scale * x!.data[row * S + s]! : -Infinity;
      mx = Math.max(mx, z[s]!);
    }
    if (mx === -Infinity) continue;
    let sum = 0;
    for (let s = 0; s < S; s++) sum += Math.exp(z[s]! - mx);
    for (let s = 0; s < S; s++) out[row * S + s] = Math.exp(z[s]! - mx) / sum;
  }
  return { shape: x!.shape, data: out };
}

export const maskedSoftmaxOp = /* @__PURE__ */ defineOp<MaskedSoftmaxAttrs>({
  name: 'maskedSoftmax',
  cpu: maskedSoftmaxCpu,
  gpu: ([x, m], a) => maskedSoftmaxGpu(x!, m, a),
  save: (_, y) => [y],
  // y = softmax(z), z = scale·x (masked z are constants): gx = scale · y · (gy − Σ gy·y); the mask has none.
  backward: (gy, { saved: [y], attrs, inputShapes }) => [maskedSoftmaxBackward(gy, y!, attrs.scale), ...(inputShapes.length > 1 ? [null] : [])],
});

/**
 * Softmax of attention scores under the causal, padding and cache-length masks.
 *
 * @example
 * ```ts
 * // scores: [B, H, T, S], mask: [B, S] i32
 * const p = maskedSoftmax(scores, mask, { causal: true, scale: 1 / 8 });
 * ```
 */
export function maskedSoftmax(
  scores: Tensor,
  mask?: Tensor,
  o: { causal?: boolean; scale?: number; kvLen?: number } = {},
): Tensor {
  const attrs: MaskedSoftmaxAttrs = { scale: o.scale ?? 1, causal: o.causal ?? true, kvLen: o.kvLen ?? scores.shape[3]! };
  return maskedSoftmaxOp(mask ? [scores, mask] : [scores], attrs);
}
