/**
 * SwiGLU gate of Llama/Qwen MLPs: silu(gate) · up, fused so the product is one pass.
 */
// gate: [..., F], up: [..., F] -> [..., F]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { ShapeError } from '../errors';
import { sameShape } from '../shape';

const SIG = 'fn sig(v: f32) -> f32 { return 1.0 / (1.0 + exp(-v)); }';

function swigluGpu(g: Tensor, u: Tensor): Tensor {
  if (!sameShape(g.shape, u.shape)) throw new ShapeError(`swiglu: gate [${g.shape}] and up [${u.shape}] differ`);
  const y = empty(g.shape, g.dtype, g.dev);
  const n = y.size;
  launch(
    {
      name: 'swiglu',
      bindings: [
        { name: 'g', dtype: g.dtype },
        { name: 'up', dtype: u.dtype },
        { name: 'y', dtype: g.dtype, access: 'read_write' },
      ],
      header: SIG,
      body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }
let a = f32(g[i]); y[i] = ${WGSL_TYPE[g.dtype]}(a * sig(a) * f32(up[i]));`,
    },
    [g, u, y],
    grid1d(n),
  );
  return y;
}

// d/dgate = gy·up·σ(a)(1 + a(1 − σ(a))) ; d/dup = gy·a·σ(a)
function swigluBackward(gy: Tensor, g: Tensor, u: Tensor): [Tensor, Tensor] {
  const gg = empty(g.shape, g.dtype, g.dev);
  const gu = empty(u.shape, u.dtype, u.dev);
  const n = g.size;
  const T = WGSL_TYPE[g.dtype];
  launch(
    {
      name: 'swiglu_backward',
      bindings: [
        { name: 'g', dtype: g.dtype },
        { name: 'up', dtype: u.dtype },
        { name: 'gy', dtype: gy.dtype },
        { name: 'gg', dtype: g.dtype, access: 'read_write' },
        { name: 'gu', dtype: u.dtype, access: 'read_write' },
      ],
      header: SIG,
      body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }
let a = f32(g[i]); let s = sig(a); let d = f32(gy[i]);
gg[i] = ${T}(d * f32(up[i]) * s * (1.0 + a * (1.0 - s)));
gu[i] = ${T}(d * a * s);`,
    },
    [g, u, gy, gg, gu],
    grid1d(n),
  );
  return [gg, gu];
}

export const swigluOp = /* @__PURE__ */ defineOp<void>({
  name: 'swiglu',
  cpu: ([g, u]: CpuTensor[]) => ({ shape: g!.shape, data: g!.data.map((a, i) => (a / (1 + Math.exp(-a))) * u!.data[i]!) }),
  gpu: ([g, u]) => swigluGpu(g!, u!),
  backward: (gy, { saved: [g, u] }) => swigluBackward(gy, g!, u!),
});

/** silu(gate) · up. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  return swigluOp([gate, up]);
}
