/**
 * The lm_head and the cross-entropy in one op, in row chunks: loss = Σ_valid (lse_n − z_n[label_n])
 * / normalizer with z = h·Wᵀ, and the logits never exist for more than one chunk of rows. Backward
 * recomputes a chunk's logits, turns them into dz = (softmax − onehot)·g / normalizer in place
 * (no second [rows, V] buffer), then dh = dz·W and, for a trainable head, dW += dzᵀ·h. Rows
 * labelled `ignoreIndex` (−100) contribute nothing, as in PyTorch.
 */
// h: [N, D], w: [V, D] (nn.Linear / tied embedding layout), labels: [N] i32 -> loss: [] f32
// h and w may differ in float dtype (fp16 hidden states against an f32 head): the products read
// each operand in its own dtype, and the logits and dh take h's dtype, as under torch.autocast.
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX, type KernelDecl } from '../wgsl';
import { DTYPE_BYTES, WGSL_TYPE, type DType } from '../dtype';
import { ShapeError } from '../errors';
import { ROW_MAX_SUM } from './softmax';
import { sum } from './reduce';
import { scale, addInPlace } from './elementwise';
import { matmulMixed } from './matmul';
import { cast } from './cast';

export interface LinearCrossEntropyAttrs {
  ignoreIndex: number;
  /** The summed loss is divided by this (the number of valid labels, or num_items_in_batch). */
  normalizer: number;
  /** Upper bound of one chunk's logits in bytes. */
  maxChunkBytes: number;
}

function dims(h: readonly number[], w: readonly number[], labels: readonly number[]): { N: number; D: number; V: number } {
  if (h.length !== 2 || w.length !== 2 || h[1] !== w[1]) throw new ShapeError(`linearCrossEntropy: h [${h}] must be [N, D] and w [${w}] [V, D]`);
  if (labels.length !== 1 || labels[0] !== h[0]) throw new ShapeError(`linearCrossEntropy: labels [${labels}] must be [${h[0]}]`);
  return { N: h[0]!, D: h[1]!, V: w[0]! };
}

function chunkRows(V: number, dt: DType, maxBytes: number): number {
  return Math.max(1, Math.floor(maxBytes / (V * DTYPE_BYTES[dt])));
}

const copyKernels = new Map<string, KernelDecl>();
/** y[i] = x[off + i] (forward: rows of h into a chunk) or y[off + i] = x[i] (backward: back into dh). */
function copyRows(x: Tensor, y: Tensor, n: number, xOff: number, yOff: number): void {
  const key = `${x.dtype}${y.dtype}`;
  let k = copyKernels.get(key);
  if (!k) {
    k = {
      name: 'lce_copy_rows',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'y', dtype: y.dtype, access: 'read_write' },
      ],
      uniforms: [
        ['n', 'u32'],
        ['xo', 'u32'],
        ['yo', 'u32'],
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= u.n) { return; }\ny[u.yo + i] = ${WGSL_TYPE[y.dtype]}(x[u.xo + i]);`,
    };
    copyKernels.set(key, k);
  }
  launch(k, [x, y], grid1d(n), [n, xOff, yOff]);
}

function rowsKernel(dt: DType, grad: boolean): KernelDecl {
  const T = WGSL_TYPE[dt];
  // One workgroup per row: max, then Σ exp; the loss of the row, or (grad) the row rewritten as
  // (softmax − onehot)·scale in place.
  return {
    name: grad ? 'lce_grad_rows' : 'lce_loss_rows',
    bindings: [
      { name: 'z', dtype: dt, access: 'read_write' },
      { name: 'lab', dtype: 'i32' },
      { name: 'out', dtype: 'f32', access: 'read_write' },
      { name: 'gy', dtype: 'f32' },
    ],
    uniforms: [
      ['V', 'u32'],
      ['rows', 'u32'],
      ['r0', 'u32'],
      ['ignore', 'i32'],
      ['inv', 'f32'],
    ],
    header: ROW_MAX_SUM,
    body: `let row = wid.x + wid.y * nwg.x; if (row >= u.rows) { return; }
let base = row * u.V;
let l = lab[u.r0 + row];
let dead = l == u.ignore || l < 0 || u32(l) >= u.V;
${grad ? `if (dead) { for (var i = lid.x; i < u.V; i += WG) { z[base + i] = ${T}(0.0); } return; }` : ''}
var m = -3.4e38;
for (var i = lid.x; i < u.V; i += WG) { m = max(m, f32(z[base + i])); }
m = reduce_max(m, lid.x);
var s = 0.0;
for (var i = lid.x; i < u.V; i += WG) { s += exp(f32(z[base + i]) - m); }
s = reduce_sum(s, lid.x);
let lse = m + log(s);
${
  grad
    ? `let g = gy[0] * u.inv;
workgroupBarrier();
for (var i = lid.x; i < u.V; i += WG) { z[base + i] = ${T}((exp(f32(z[base + i]) - lse) - select(0.0, 1.0, i == u32(l))) * g); }`
    : `if (lid.x == 0u) { out[u.r0 + row] = select(lse - f32(z[base + u32(l)]), 0.0, dead); }`
}`,
  };
}
const rowKernels = new Map<string, KernelDecl>();
function rows(dt: DType, grad: boolean): KernelDecl {
  const key = `${dt}${grad}`;
  let k = rowKernels.get(key);
  if (!k) rowKernels.set(key, (k = rowsKernel(dt, grad)));
  return k;
}

/** Calls fn(r0, r1, hc) for each chunk of rows of h, with hc a copy of rows [r0, r1). */
function forChunks(h: Tensor, V: number, a: LinearCrossEntropyAttrs, fn: (r0: number, r1: number, hc: Tensor) => void): void {
  const [N, D] = h.shape as [number, number];
  const R = chunkRows(V, h.dtype, a.maxChunkBytes);
  for (let r0 = 0; r0 < N; r0 += R) {
    const r1 = Math.min(N, r0 + R);
    let hc = h;
    if (R < N) {
      hc = empty([r1 - r0, D], h.dtype, h.dev);
      copyRows(h, hc, (r1 - r0) * D, r0 * D, 0);
    }
    try {
      fn(r0, r1, hc);
    } finally {
      if (hc !== h) hc.release();
    }
  }
}

function lceGpu(h: Tensor, w: Tensor, labels: Tensor, a: LinearCrossEntropyAttrs): Tensor {
  const { N, V } = dims(h.shape, w.shape, labels.shape);
  if (labels.dtype !== 'i32') throw new ShapeError(`linearCrossEntropy: labels must be i32, got ${labels.dtype}`);
  const rowLoss = empty([N], 'f32', h.dev);
  forChunks(h, V, a, (r0, r1, hc) => {
    const z = matmulMixed(hc, w, { transA: false, transB: true });
    launch(rows(z.dtype, false), [z, labels, rowLoss, labels], grid1d(r1 - r0, 1), [V, r1 - r0, r0, a.ignoreIndex, 0]);
    z.release();
  });
  const total = sum(rowLoss);
  rowLoss.release();
  const loss = scale(total, 1 / a.normalizer);
  total.release();
  return loss;
}

function lceBackward(gy: Tensor, h: Tensor, w: Tensor, labels: Tensor, a: LinearCrossEntropyAttrs, wantH: boolean, wantW: boolean): [Tensor | null, Tensor | null] {
  const { N, D, V } = dims(h.shape, w.shape, labels.shape);
  const dh = wantH ? empty([N, D], h.dtype, h.dev) : null;
  let dw: Tensor | null = null;
  const unused = empty([1], 'f32', h.dev); // the loss kernel's output binding, unused by the gradient variant
  forChunks(h, V, a, (r0, r1, hc) => {
    const z = matmulMixed(hc, w, { transA: false, transB: true });
    launch(rows(z.dtype, true), [z, labels, unused, gy], grid1d(r1 - r0, 1), [V, r1 - r0, r0, a.ignoreIndex, 1 / a.normalizer]);
    if (dh) {
      const dhc = matmulMixed(z, w, { transA: false, transB: false });
      if (hc === h) copyRows(dhc, dh, dhc.size, 0, 0);
      else copyRows(dhc, dh, dhc.size, 0, r0 * D);
      dhc.release();
    }
    if (wantW) {
      // dW in W's dtype: the logits' gradient (h's dtype) is cast when they differ.
      const zw = z.dtype === w.dtype ? z : cast(z, w.dtype);
      const hw = hc.dtype === w.dtype ? hc : cast(hc, w.dtype);
      const dwc = matmulMixed(zw, hw, { transA: true, transB: false });
      if (zw !== z) zw.release();
      if (hw !== hc) hw.release();
      if (dw) {
        addInPlace(dw, dwc);
        dwc.release();
      } else dw = dwc;
    }
    z.release();
  });
  unused.release();
  return [dh, dw];
}

function lceCpu([h, w, labels]: CpuTensor[], a: LinearCrossEntropyAttrs): CpuTensor {
  const { N, D, V } = dims(h!.shape, w!.shape, labels!.shape);
  const z = new Float64Array(V);
  let total = 0;
  for (let n = 0; n < N; n++) {
    const l = labels!.data[n]!;
    if (l === a.ignoreIndex || l < 0 || l >= V) continue;
    let m = -Infinity;
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += h!.data[n * D + d]! * w!.data[v * D + d]!;
      z[v] = s;
      m = Math.max(m, s);
    }
    let e = 0;
    for (let v = 0; v < V; v++) e += Math.exp(z[v]! - m);
    total += m + Math.log(e) - z[l]!;
  }
  return { shape: [], data: Float64Array.of(total / a.normalizer) };
}

export const linearCrossEntropyOp = /* @__PURE__ */ defineOp<LinearCrossEntropyAttrs>({
  name: 'linearCrossEntropy',
  cpu: lceCpu,
  gpu: ([h, w, l], a) => lceGpu(h!, w!, l!, a),
  backward: (gy, { saved: [h, w, l], attrs, needs }) => [...lceBackward(gy, h!, w!, l!, attrs, needs[0]!, needs[1]!), null],
});

/**
 * Cross-entropy of h·Wᵀ against labels without keeping the logits (an lm_head over a large
 * vocabulary): the mean over valid labels, or the sum divided by `normalizer`.
 *
 * @example
 * ```ts
 * // h: [B·T, 896], embed: [151936, 896] (tied lm_head), labels: [B·T] i32, already shifted
 * const loss = linearCrossEntropy(h, embed, labels, { normalizer: numItems });
 * ```
 */
export function linearCrossEntropy(
  h: Tensor,
  w: Tensor,
  labels: Tensor,
  o: { ignoreIndex?: number; normalizer: number; maxChunkBytes?: number },
): Tensor {
  if (!(o.normalizer > 0)) throw new ShapeError(`linearCrossEntropy: normalizer must be > 0, got ${o.normalizer}`);
  return linearCrossEntropyOp([h, w, labels], { ignoreIndex: o.ignoreIndex ?? -100, normalizer: o.normalizer, maxChunkBytes: o.maxChunkBytes ?? 256 * 2 ** 20 });
}
