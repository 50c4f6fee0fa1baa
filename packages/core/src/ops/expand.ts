/**
 * Broadcast copy: materialises x repeated to `shape` (NumPy rules). The backward of a sum, and
 * the way a bias or scale is spread over rows.
 */
// x: [...s], out: [...shape] where s broadcasts to shape
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { numel, WGSL_TYPE } from '../dtype';
import { broadcastShapes, broadcastStrides, sameShape, stridesOf } from '../shape';
import { ShapeError } from '../errors';
import { sumTo } from './reduce';

interface ExpandAttrs {
  shape: number[];
}

/** WGSL computing `name` = offset into a broadcast operand from linear output index `i`. */
export function broadcastIndex(name: string, src: readonly number[], out: readonly number[]): string {
  if (sameShape(src, out)) return `let ${name} = i;`;
  const bs = broadcastStrides(src, out);
  const lines = [`var ${name} = 0u;`, `{ var r = i;`];
  for (let d = out.length - 1; d >= 0; d--) {
    if (bs[d]) lines.push(`  ${name} += (r % ${out[d]}u) * ${bs[d]}u;`);
    lines.push(`  r = r / ${out[d]}u;`);
  }
  lines.push('}');
  return lines.join('\n');
}

export function broadcastCpu(x: CpuTensor, out: readonly number[]): Float64Array {
  const bs = broadcastStrides(x.shape, out);
  const st = stridesOf(out);
  const n = numel(out);
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let o = 0;
    for (let d = 0; d < out.length; d++) o += (Math.floor(i / st[d]!) % out[d]!) * bs[d]!;
    r[i] = x.data[o]!;
  }
  return r;
}

export const expandOp = /* @__PURE__ */ defineOp<ExpandAttrs>({
  name: 'expand',
  cpu: ([x], { shape }) => ({ shape, data: broadcastCpu(x!, shape) }),
  gpu: ([x], { shape }) => {
    const y = empty(shape, x!.dtype, x!.dev);
    const n = y.size;
    const T = WGSL_TYPE[x!.dtype];
    launch(
      {
        name: 'expand',
        bindings: [
          { name: 'x', dtype: x!.dtype },
          { name: 'y', dtype: x!.dtype, access: 'read_write' },
        ],
        body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }\n${broadcastIndex('xi', x!.shape, shape)}\ny[i] = ${T}(x[xi]);`,
      },
      [x!, y],
      grid1d(n),
    );
    return y;
  },
  save: () => [],
  backward: (gy, { inputShapes }) => [sumTo(gy, inputShapes[0]!)],
});

export function expandTo(x: Tensor, shape: readonly number[]): Tensor {
  const s = broadcastShapes(x.shape, shape, 'expand');
  if (!sameShape(s, shape)) throw new ShapeError(`expand: [${x.shape}] cannot broadcast to [${shape}]`);
  if (sameShape(x.shape, shape)) return x.reshape([...shape]);
  return expandOp([x], { shape: [...shape] });
}
