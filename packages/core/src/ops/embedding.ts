/**
 * Embedding lookup (row gather). Backward scatters rows back with float atomics emulated by
 * compare-exchange on u32 bits, since WGSL has no atomic float add and a token can repeat.
 */
// weight: [V, D], ids: [...] i32 -> out: [..., D]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { ShapeError } from '../errors';
import { fillInPlace } from './elementwise';

function embeddingGpu(w: Tensor, ids: Tensor): Tensor {
  if (w.rank !== 2) throw new ShapeError(`embedding: weight must be [V, D], got [${w.shape}]`);
  if (ids.dtype !== 'i32' && ids.dtype !== 'u32') throw new ShapeError(`embedding: ids must be i32, got ${ids.dtype}`);
  const [V, D] = w.shape as [number, number];
  const y = empty([...ids.shape, D], w.dtype, w.dev);
  const n = y.size;
  launch(
    {
      name: 'embedding',
      bindings: [
        { name: 'w', dtype: w.dtype },
        { name: 'ids', dtype: ids.dtype },
        { name: 'y', dtype: w.dtype, access: 'read_write' },
      ],
      // Out-of-range ids read as zeros instead of faulting; callers validate ids on the host.
      body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }
let t = i / ${D}u; let d = i % ${D}u; let id = u32(ids[t]);
if (id >= ${V}u) { y[i] = ${WGSL_TYPE[w.dtype]}(0.0); return; }
y[i] = w[id * ${D}u + d];`,
    },
    [w, ids, y],
    grid1d(n),
  );
  return y;
}

function embeddingBackward(gy: Tensor, ids: Tensor, V: number, D: number): Tensor {
  const gw = empty([V, D], 'f32', gy.dev);
  fillInPlace(gw, 0);
  const n = gy.size;
  launch(
    {
      name: 'embedding_backward',
      bindings: [
        { name: 'gw', dtype: 'u32', access: 'read_write', atomic: true },
        { name: 'ids', dtype: ids.dtype },
        { name: 'gy', dtype: gy.dtype },
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }
let t = i / ${D}u; let d = i % ${D}u; let id = u32(ids[t]);
if (id >= ${V}u) { return; }
let add = f32(gy[i]);
let p = id * ${D}u + d;
var old = atomicLoad(&gw[p]);
loop {
  let r = atomicCompareExchangeWeak(&gw[p], old, bitcast<u32>(bitcast<f32>(old) + add));
  if (r.exchanged) { break; }
  old = r.old_value;
}`,
    },
    [gw, ids, gy],
    grid1d(n),
  );
  return gw;
}

function embeddingCpu([w, ids]: CpuTensor[]): CpuTensor {
  const [V, D] = w!.shape as [number, number];
  const out = new Float64Array(ids!.data.length * D);
  ids!.data.forEach((id, t) => {
    if (id >= 0 && id < V) out.set(w!.data.subarray(id * D, id * D + D), t * D);
  });
  return { shape: [...ids!.shape, D], data: out };
}

export const embeddingOp = /* @__PURE__ */ defineOp<void>({
  name: 'embedding',
  cpu: embeddingCpu,
  gpu: ([w, ids]) => embeddingGpu(w!, ids!),
  save: ([, ids]) => [ids!],
  backward: (gy, { saved: [ids], inputShapes: [ws], needs }) => [needs[0] ? embeddingBackward(gy, ids!, ws![0]!, ws![1]!) : null, null],
});

/**
 * Looks up rows of `weight` by `ids`; also a general row gather (e.g. the last position's hidden
 * state). Out-of-range ids give zero rows.
 *
 * @example
 * ```ts
 * const h = embedding(embedTokens, ids); // ids [B, T] i32 -> [B, T, D]
 * ```
 */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  return embeddingOp([weight, ids]);
}
