/** Softmax over the last dimension, max-subtracted for stability. */
// x: [..., N] -> [..., N]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { mul, sub } from './elementwise';
import { sum } from './reduce';

export const ROW_MAX_SUM = `var<workgroup> part: array<f32, 256>;
fn reduce_max(v: f32, l: u32) -> f32 {
  part[l] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l < s) { part[l] = max(part[l], part[l + s]); }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}
fn reduce_sum(v: f32, l: u32) -> f32 {
  part[l] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l < s) { part[l] += part[l + s]; }
    workgroupBarrier();
  }
  let r = part[0];
  workgroupBarrier();
  return r;
}`;

function softmaxGpu(x: Tensor): Tensor {
  const N = x.shape[x.rank - 1]!;
  const rows = x.size / N;
  const y = empty(x.shape, x.dtype, x.dev);
  launch(
    {
      name: 'softmax',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'y', dtype: x.dtype, access: 'read_write' },
      ],
      uniforms: [
        ['N', 'u32'],
        ['rows', 'u32'],
      ],
      header: ROW_MAX_SUM,
      body: `let row = wid.x + wid.y * nwg.x; if (row >= u.rows) { return; }
let base = row * u.N;
var m = -3.4e38;
for (var i = lid.x; i < u.N; i += WG) { m = max(m, f32(x[base + i])); }
m = reduce_max(m, lid.x);
var s = 0.0;
for (var i = lid.x; i < u.N; i += WG) { s += exp(f32(x[base + i]) - m); }
s = reduce_sum(s, lid.x);
for (var i = lid.x; i < u.N; i += WG) { y[base + i] = ${WGSL_TYPE[x.dtype]}(exp(f32(x[base + i]) - m) / s); }`,
    },
    [x, y],
    grid1d(rows, 1),
    [N, rows],
  );
  return y;
}

function softmaxCpu([x]: CpuTensor[]): CpuTensor {
  const N = x!.shape[x!.shape.length - 1]!;
  const out = new Float64Array(x!.data.length);
  for (let r = 0; r < x!.data.length / N; r++) {
    const row = x!.data.subarray(r * N, r * N + N);
    const m = Math.max(...row);
    let s = 0;
    for (let i = 0; i < N; i++) s += Math.exp(row[i]! - m);
    for (let i = 0; i < N; i++) out[r * N + i] = Math.exp(row[i]! - m) / s;
  }
  return { shape: x!.shape, data: out };
}

export const softmaxOp = /* @__PURE__ */ defineOp<void>({
  name: 'softmax',
  cpu: softmaxCpu,
  gpu: ([x]) => softmaxGpu(x!),
  save: (_, y) => [y],
  // gx = y · (gy − Σ gy·y)
  backward: (gy, { saved: [y] }) => [mul(y!, sub(gy, sum(mul(gy, y!), [-1], true)))],
});

export function softmax(x: Tensor): Tensor {
  return softmaxOp([x]);
}
