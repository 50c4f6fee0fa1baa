/** Casts between f32 and f16 (and to/from i32 for index work). */
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE, type DType } from '../dtype';
import { f16BitsToF32, f32Bits, f32BitsToF16Bits } from '../io/dtype-codecs';

interface CastAttrs {
  to: DType;
}

export const castOp = /* @__PURE__ */ defineOp<CastAttrs>({
  name: 'cast',
  // The reference rounds through the target precision, as the GPU does.
  cpu: ([x]: CpuTensor[], { to }) => ({
    shape: x!.shape,
    data: x!.data.map((v) => (to === 'f16' ? f16BitsToF32(f32BitsToF16Bits(f32Bits(v))) : to === 'f32' ? Math.fround(v) : Math.trunc(v))),
  }),
  gpu: ([x], { to }) => {
    const y = empty(x!.shape, to, x!.dev);
    const n = y.size;
    launch(
      {
        name: `cast_${x!.dtype}_${to}`,
        bindings: [
          { name: 'x', dtype: x!.dtype },
          { name: 'y', dtype: to, access: 'read_write' },
        ],
        body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }\ny[i] = ${WGSL_TYPE[to]}(x[i]);`,
      },
      [x!, y],
      grid1d(n),
    );
    return y;
  },
  save: ([x]) => [x!],
  backward: (gy, { saved: [x] }) => [x!.dtype === 'f32' || x!.dtype === 'f16' ? cast(gy, x!.dtype) : null],
});

/**
 * Converts a tensor's dtype; a same-dtype cast is a view.
 *
 * @example
 * ```ts
 * const h = cast(x, 'f16');
 * ```
 */
export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x.reshape([...x.shape]);
  return castOp([x], { to });
}
