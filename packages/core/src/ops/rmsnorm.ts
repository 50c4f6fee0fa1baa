/**
 * RMSNorm as Llama and Qwen2 compute it: y = w · x / sqrt(mean(x²) + eps), in f32. The output may
 * be stored in another float dtype than the input (an f32 residual stream feeding f16 matmuls
 * under fp16 mixed precision), which saves a cast.
 */
// x: [..., D], w: [D] -> y: [..., D]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d } from '../wgsl';
import { WGSL_TYPE, type DType } from '../dtype';
import { f16BitsToF32, f32Bits, f32BitsToF16Bits } from '../io/dtype-codecs';
import { ShapeError } from '../errors';
import { sum } from './reduce';
import { ROW_MAX_SUM } from './softmax';

interface RmsAttrs {
  eps: number;
  /** Output dtype; default the input's. */
  out?: DType;
}

// Row reductions shared with softmax: one workgroup per row, tree sum in shared memory.
const ROW_REDUCE = ROW_MAX_SUM;

function rmsGpu(x: Tensor, w: Tensor, eps: number, out: DType): Tensor {
  const D = x.shape[x.rank - 1]!;
  if (w.rank !== 1 || w.shape[0] !== D) throw new ShapeError(`rmsNorm: weight [${w.shape}] does not match last dim ${D} of [${x.shape}]`);
  const rows = x.size / D;
  const y = empty(x.shape, out, x.dev);
  const T = WGSL_TYPE[out];
  launch(
    {
      name: 'rmsnorm',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'w', dtype: w.dtype },
        { name: 'y', dtype: out, access: 'read_write' },
      ],
      uniforms: [
        ['D', 'u32'],
        ['rows', 'u32'],
        ['eps', 'f32'],
      ],
      header: ROW_REDUCE,
      body: `let row = wid.x + wid.y * nwg.x; if (row >= u.rows) { return; }
let base = row * u.D;
var ss = 0.0;
for (var i = lid.x; i < u.D; i += WG) { let v = f32(x[base + i]); ss += v * v; }
let r = inverseSqrt(reduce_sum(ss, lid.x) / f32(u.D) + u.eps);
for (var i = lid.x; i < u.D; i += WG) { y[base + i] = ${T}(f32(w[i]) * (f32(x[base + i]) * r)); }`,
    },
    [x, w, y],
    grid1d(rows, 1),
    [D, rows, eps],
  );
  return y;
}

// gx_j = r·w_j·g_j − x_j·r³/D · Σ_i w_i·g_i·x_i ;  gw_i = Σ_rows g_i·x_i·r
function rmsBackward(gy: Tensor, x: Tensor, w: Tensor, eps: number, wantW: boolean): [Tensor, Tensor | null] {
  const D = x.shape[x.rank - 1]!;
  const rows = x.size / D;
  const gx = empty(x.shape, x.dtype, x.dev);
  const gwRows = empty([rows, D], 'f32', x.dev);
  const T = WGSL_TYPE[x.dtype];
  launch(
    {
      name: 'rmsnorm_backward',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'w', dtype: w.dtype },
        { name: 'gy', dtype: gy.dtype },
        { name: 'gx', dtype: x.dtype, access: 'read_write' },
        { name: 'gw', dtype: 'f32', access: 'read_write' },
      ],
      uniforms: [
        ['D', 'u32'],
        ['rows', 'u32'],
        ['eps', 'f32'],
      ],
      header: ROW_REDUCE,
      body: `let row = wid.x + wid.y * nwg.x; if (row >= u.rows) { return; }
let base = row * u.D;
var ss = 0.0; var dot = 0.0;
for (var i = lid.x; i < u.D; i += WG) {
  let v = f32(x[base + i]); ss += v * v; dot += f32(w[i]) * f32(gy[base + i]) * v;
}
let r = inverseSqrt(reduce_sum(ss, lid.x) / f32(u.D) + u.eps);
let tot = reduce_sum(dot, lid.x);
let c = r * r * r / f32(u.D) * tot;
for (var i = lid.x; i < u.D; i += WG) {
  let v = f32(x[base + i]); let g = f32(gy[base + i]);
  gx[base + i] = ${T}(r * f32(w[i]) * g - v * c);
  gw[base + i] = g * v * r;
}`,
    },
    [x, w, gy, gx, gwRows],
    grid1d(rows, 1),
    [D, rows, eps],
  );
  if (!wantW) {
    gwRows.release();
    return [gx, null];
  }
  return [gx, sum(gwRows, [0])];
}

function rmsCpu([x, w]: CpuTensor[], { eps, out: o }: RmsAttrs): CpuTensor {
  const D = x!.shape[x!.shape.length - 1]!;
  const out = new Float64Array(x!.data.length);
  for (let r = 0; r < x!.data.length / D; r++) {
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x!.data[r * D + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) out[r * D + i] = w!.data[i]! * x!.data[r * D + i]! * inv;
  }
  // An f16 output is rounded as the GPU stores it.
  if (o === 'f16') for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(f32BitsToF16Bits(f32Bits(out[i]!)));
  return { shape: x!.shape, data: out };
}

export const rmsOp = /* @__PURE__ */ defineOp<RmsAttrs>({
  name: 'rmsNorm',
  cpu: rmsCpu,
  gpu: ([x, w], { eps, out }) => rmsGpu(x!, w!, eps, out ?? x!.dtype),
  backward: (gy, { saved: [x, w], attrs, needs }) => {
    const [gx, gw] = rmsBackward(gy, x!, w!, attrs.eps, needs[1]!);
    return [gx, gw];
  },
});

/**
 * RMSNorm over the last dimension.
 *
 * @example
 * ```ts
 * const h = rmsNorm(x, inputLayernormWeight, 1e-6);
 * ```
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6, out?: DType): Tensor {
  return rmsOp([x, weight], out && out !== x.dtype ? { eps, out } : { eps });
}
