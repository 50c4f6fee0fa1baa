/**
 * Sum over any set of axes: one workgroup per output element strides over the reduced elements
 * and combines them in shared memory, so both "many small sums" (bias gradients) and "one huge
 * sum" (a loss) use the whole device.
 */
// x: [...], axes: reduced dimensions; out: x.shape without (or with size 1 at) those axes
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d } from '../wgsl';
import { numel, WGSL_TYPE } from '../dtype';
import { stridesOf, sameShape } from '../shape';
import { ShapeError } from '../errors';
import { expandTo } from './expand';

export interface SumAttrs {
  axes: number[];
  keepDims: boolean;
}

function normAxes(axes: number[] | undefined, rank: number): number[] {
  if (!axes) return [...Array(rank).keys()];
  const a = axes.map((x) => (x < 0 ? x + rank : x));
  for (const x of a) if (x < 0 || x >= rank) throw new ShapeError(`sum: axis ${x} out of range for rank ${rank}`);
  return [...new Set(a)].sort((p, q) => p - q);
}

function outShape(shape: readonly number[], axes: number[], keep: boolean): number[] {
  const s: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) s.push(d);
    else if (keep) s.push(1);
  });
  return s;
}

/** WGSL that maps (output index o, reduction index r) to the input offset, with shapes as constants. */
function indexCode(shape: readonly number[], axes: number[]): string {
  const st = stridesOf(shape);
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const lines = ['var base = 0u;', 'var ro = o;'];
  for (let k = kept.length - 1; k >= 0; k--) {
    const d = kept[k]!;
    lines.push(`base += (ro % ${shape[d]}u) * ${st[d]}u; ro = ro / ${shape[d]}u;`);
  }
  const red = [...axes];
  const fn = ['fn roff(r0: u32) -> u32 {', '  var r = r0; var off = 0u;'];
  for (let k = red.length - 1; k >= 0; k--) {
    const d = red[k]!;
    fn.push(`  off += (r % ${shape[d]}u) * ${st[d]}u; r = r / ${shape[d]}u;`);
  }
  fn.push('  return off;', '}');
  return [lines.join('\n'), fn.join('\n')].join('\n@@\n');
}

function sumGpu(x: Tensor, axes: number[], keep: boolean): Tensor {
  const shape = outShape(x.shape, axes, keep);
  const y = empty(shape, x.dtype, x.dev);
  const nOut = numel(shape);
  const nRed = numel(axes.map((a) => x.shape[a]!));
  const [idx, fn] = indexCode(x.shape, axes).split('\n@@\n');
  const T = WGSL_TYPE[x.dtype];
  launch(
    {
      name: 'sum',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'y', dtype: x.dtype, access: 'read_write' },
      ],
      header: `var<workgroup> part: array<f32, 256>;\n${fn}`,
      body: `
  let o = wid.x + wid.y * nwg.x;
  if (o >= ${nOut}u) { return; }
  ${idx}
  var acc = 0.0;
  for (var r = lid.x; r < ${nRed}u; r += 256u) { acc += f32(x[base + roff(r)]); }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { y[o] = ${T}(part[0]); }`,
    },
    [x, y],
    grid1d(nOut, 1),
  );
  return y;
}

function sumCpu([x]: CpuTensor[], { axes, keepDims }: SumAttrs): CpuTensor {
  const shape = outShape(x!.shape, axes, keepDims);
  const out = new Float64Array(numel(shape));
  const st = stridesOf(x!.shape);
  const keptDims = x!.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outSt = stridesOf(keptDims.map((d) => x!.shape[d]!));
  for (let i = 0; i < x!.data.length; i++) {
    let o = 0;
    keptDims.forEach((d, k) => {
      o += (Math.floor(i / st[d]!) % x!.shape[d]!) * outSt[k]!;
    });
    out[o]! += x!.data[i]!;
  }
  return { shape, data: out };
}

export const sumOp = /* @__PURE__ */ defineOp<SumAttrs>({
  name: 'sum',
  cpu: sumCpu,
  gpu: ([x], a) => sumGpu(x!, a.axes, a.keepDims),
  save: () => [],
  // d(sum)/dx = 1 for every reduced element: broadcast the gradient back.
  backward: (gy, { inputShapes, attrs }) => {
    const xs = inputShapes[0]!;
    const kept = outShape(xs, attrs.axes, true);
    return [expandTo(gy.reshape(kept), xs)];
  },
});

/**
 * Sum over `axes` (all by default).
 *
 * @example
 * ```ts
 * const total = sum(x);            // scalar, shape []
 * const rows = sum(x, [-1], true); // [N, 1]
 * ```
 */
export function sum(x: Tensor, axes?: number[], keepDims = false): Tensor {
  return sumOp([x], { axes: normAxes(axes, x.rank), keepDims });
}

/** Sums a broadcast gradient back to the shape of the operand it was broadcast from. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g.reshape([...shape]);
  const off = g.rank - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < off || (shape[i - off] === 1 && d !== 1)) axes.push(i);
  });
  return sum(g, axes, false).reshape([...shape]);
}
