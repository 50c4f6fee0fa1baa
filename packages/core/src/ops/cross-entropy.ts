/**
 * Mean cross-entropy over labelled rows, ignoring label −100 as PyTorch does. The forward keeps
 * only a log-sum-exp per row; the backward writes softmax − onehot straight into the one
 * [N, V] gradient buffer, so the full probabilities are never held twice.
 */
// logits: [..., V], labels: [...] i32 -> loss: [] (sum over valid rows / normalizer)
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { ShapeError } from '../errors';
import { ROW_MAX_SUM } from './softmax';
import { sum } from './reduce';
import { div } from './elementwise';
import { full } from '../create';

export interface CrossEntropyAttrs {
  ignoreIndex: number;
  /** Divide by this instead of the number of valid labels (transformers' num_items_in_batch). */
  normalizer?: number;
}

function ceGpu(x: Tensor, labels: Tensor, a: CrossEntropyAttrs): [Tensor, Tensor[]] {
  const V = x.shape[x.rank - 1]!;
  const N = x.size / V;
  if (labels.size !== N) throw new ShapeError(`crossEntropy: ${labels.size} labels for ${N} rows of logits [${x.shape}]`);
  if (labels.dtype !== 'i32') throw new ShapeError(`crossEntropy: labels must be i32, got ${labels.dtype}`);
  const rowLoss = empty([N], 'f32', x.dev);
  const lse = empty([N], 'f32', x.dev);
  const valid = empty([N], 'f32', x.dev);
  launch(
    {
      name: 'ce_rows',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'lab', dtype: 'i32' },
        { name: 'loss', dtype: 'f32', access: 'read_write' },
        { name: 'lse', dtype: 'f32', access: 'read_write' },
        { name: 'valid', dtype: 'f32', access: 'read_write' },
      ],
      uniforms: [
        ['V', 'u32'],
        ['N', 'u32'],
        ['ignore', 'i32'],
      ],
      header: ROW_MAX_SUM,
      body: `let row = wid.x + wid.y * nwg.x; if (row >= u.N) { return; }
let base = row * u.V;
var m = -3.4e38;
for (var i = lid.x; i < u.V; i += WG) { m = max(m, f32(x[base + i])); }
m = reduce_max(m, lid.x);
var s = 0.0;
for (var i = lid.x; i < u.V; i += WG) { s += exp(f32(x[base + i]) - m); }
s = reduce_sum(s, lid.x);
if (lid.x == 0u) {
  let l = lab[row];
  let z = m + log(s);
  lse[row] = z;
  if (l == u.ignore || l < 0 || u32(l) >= u.V) { loss[row] = 0.0; valid[row] = 0.0; }
  else { loss[row] = z - f32(x[base + u32(l)]); valid[row] = 1.0; }
}`,
    },
    [x, labels, rowLoss, lse, valid],
    grid1d(N, 1),
    [V, N, a.ignoreIndex],
  );
  const total = sum(rowLoss);
  const count = a.normalizer ? full([], a.normalizer, { dev: x.dev }) : sum(valid);
  const loss = div(total, count);
  rowLoss.release();
  valid.release();
  total.release();
  return [loss, [lse, count]];
}

function ceBackward(gy: Tensor, x: Tensor, labels: Tensor, lse: Tensor, count: Tensor, a: CrossEntropyAttrs): Tensor {
  const V = x.shape[x.rank - 1]!;
  const gx = empty(x.shape, x.dtype, x.dev);
  const n = x.size;
  launch(
    {
      name: 'ce_backward',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'lab', dtype: 'i32' },
        { name: 'lse', dtype: 'f32' },
        { name: 'cnt', dtype: 'f32' },
        { name: 'gy', dtype: 'f32' },
        { name: 'gx', dtype: x.dtype, access: 'read_write' },
      ],
      uniforms: [
        ['n', 'u32'],
        ['V', 'u32'],
        ['ignore', 'i32'],
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= u.n) { return; }
let row = i / u.V; let c = i % u.V; let l = lab[row];
if (l == u.ignore || l < 0 || u32(l) >= u.V) { gx[i] = ${WGSL_TYPE[x.dtype]}(0.0); return; }
let p = exp(f32(x[i]) - lse[row]);
let hot = select(0.0, 1.0, u32(l) == c);
gx[i] = ${WGSL_TYPE[x.dtype]}((p - hot) * gy[0] / max(cnt[0], 1e-30));`,
    },
    [x, labels, lse, count, gy, gx],
    grid1d(n),
    [n, V, a.ignoreIndex],
  );
  return gx;
}

function ceCpu([x, labels]: CpuTensor[], a: CrossEntropyAttrs): CpuTensor {
  const V = x!.shape[x!.shape.length - 1]!;
  let total = 0;
  let count = 0;
  labels!.data.forEach((l, r) => {
    if (l === a.ignoreIndex || l < 0 || l >= V) return;
    const row = x!.data.subarray(r * V, r * V + V);
    const m = Math.max(...row);
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(row[i]! - m);
    total += m + Math.log(s) - row[l]!;
    count++;
  });
  return { shape: [], data: Float64Array.of(total / (a.normalizer ?? count)) };
}

export const ceOp = /* @__PURE__ */ defineOp<CrossEntropyAttrs>({
  name: 'crossEntropy',
  cpu: ceCpu,
  gpu: ([x, l], a) => ceGpu(x!, l!, a),
  backward: (gy, { saved: [x, l, lse, count], attrs }) => [ceBackward(gy, x!, l!, lse!, count!, attrs), null],
});

/**
 * Cross-entropy of logits against integer labels; rows labelled `ignoreIndex` (−100) are skipped.
 *
 * @example
 * ```ts
 * const loss = crossEntropy(logits.reshape([-1, vocab]), labels.reshape([-1]));
 * ```
 */
export function crossEntropy(logits: Tensor, labels: Tensor, o: Partial<CrossEntropyAttrs> = {}): Tensor {
  return ceOp([logits, labels], { ignoreIndex: o.ignoreIndex ?? -100, normalizer: o.normalizer });
}
