/**
 * Axis permutation, as a copy: out.shape[j] = x.shape[dims[j]] (torch's `x.permute(dims).contiguous()`).
 * Attention uses it to bring heads in front of positions, so that each head's [T, D] block is
 * contiguous for the batched matmul.
 */
// x: [...s], dims: a permutation of 0..rank−1; out: [s[dims[0]], ..., s[dims[rank−1]]]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { numel } from '../dtype';
import { stridesOf } from '../shape';
import { ShapeError } from '../errors';

interface PermuteAttrs {
  dims: number[];
}

function outShape(shape: readonly number[], dims: readonly number[]): number[] {
  return dims.map((d) => shape[d]!);
}

/** The permutation that undoes `dims`: permute(permute(x, dims), inverse(dims)) = x. */
function inverse(dims: readonly number[]): number[] {
  const inv = new Array<number>(dims.length);
  dims.forEach((d, j) => (inv[d] = j));
  return inv;
}

function permuteCpu([x]: CpuTensor[], { dims }: PermuteAttrs): CpuTensor {
  const shape = outShape(x!.shape, dims);
  const inSt = stridesOf(x!.shape);
  const outSt = stridesOf(shape);
  const n = numel(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let j = 0; j < dims.length; j++) off += (Math.floor(i / outSt[j]!) % shape[j]!) * inSt[dims[j]!]!;
    data[i] = x!.data[off]!;
  }
  return { shape, data };
}

function permuteGpu(x: Tensor, dims: number[]): Tensor {
  const shape = outShape(x.shape, dims);
  const y = empty(shape, x.dtype, x.dev);
  const n = y.size;
  const inSt = stridesOf(x.shape);
  // Output index -> input offset, innermost output axis first; shapes and strides are constants.
  const idx = ['var xi = 0u;', 'var r = i;'];
  for (let j = shape.length - 1; j >= 0; j--) idx.push(`xi += (r % ${shape[j]}u) * ${inSt[dims[j]!]}u; r = r / ${shape[j]}u;`);
  launch(
    {
      name: 'permute',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'y', dtype: x.dtype, access: 'read_write' },
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }\n${idx.join('\n')}\ny[i] = x[xi];`,
    },
    [x, y],
    grid1d(n),
  );
  return y;
}

export const permuteOp = /* @__PURE__ */ defineOp<PermuteAttrs>({
  name: 'permute',
  cpu: permuteCpu,
  gpu: ([x], { dims }) => permuteGpu(x!, dims),
  save: () => [],
  // y[..., i_dims[j], ...] = x[...]: the gradient moves back with the inverse permutation.
  backward: (gy, { attrs: { dims } }) => [permute(gy, inverse(dims))],
});

/**
 * Reorders axes (a copy); negative axes count from the end.
 *
 * @example
 * ```ts
 * const qh = permute(q, [0, 2, 1, 3]); // [B, T, H, D] -> [B, H, T, D]
 * ```
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const r = x.rank;
  const d = dims.map((a) => (a < 0 ? a + r : a));
  if (d.length !== r || new Set(d).size !== r || d.some((a) => !Number.isInteger(a) || a < 0 || a >= r)) {
    throw new ShapeError(`permute: dims [${dims}] must be a permutation of 0..${r - 1} for [${x.shape}]`);
  }
  // Moving only axes of size 1 keeps the element order: a view suffices.
  const moved = d.filter((a) => x.shape[a] !== 1);
  if (moved.every((a, j) => j === 0 || a > moved[j - 1]!)) return x.reshape(outShape(x.shape, d));
  return permuteOp([x], { dims: d });
}
