// Ops against PyTorch (fixtures/ops-golden.json, made by tools/golden/ops_golden.py in float64):
// each op's float64 CPU reference must give torch's output (so a bug copied into a reference is
// caught even when the kernel shares it), and its GPU kernel and backward rule must give torch's
// output and the gradient of sum(out · w) for every float input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import {
  attention, backward, crossEntropy, embedding, getDevice, keep, matmul, maskedSoftmax, mul, rmsNorm, rope, softmax, sum,
  swiglu, tensor, tidy, type DType, type QDevice, type Tensor,
} from '../src';
import { readJsonFixture, reference, type CpuTensor } from '../src/testing';

interface GoldenInput {
  shape: number[];
  dtype: 'f32' | 'i32';
  grad: boolean;
  data: number[];
}
interface GoldenCase {
  name: string;
  op: string;
  attrs: Record<string, unknown> | null;
  inputs: GoldenInput[];
  w: number[];
  out_shape: number[];
  out: number[];
  grads: (number[] | null)[];
}

const FIXTURE = fileURLToPath(new URL('../fixtures/ops-golden.json', import.meta.url));
const golden = readJsonFixture<{ torch: string; cases: GoldenCase[] }>(FIXTURE, 'python3 tools/golden/ops_golden.py packages/core/fixtures/ops-golden.json (torch; see tools/golden/run-oracles.sh)');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Attrs = any;
/** How each op is applied on the GPU, given the fixture's attributes. */
const GPU: Record<string, (a: Attrs) => (...xs: Tensor[]) => Tensor> = {
  rmsNorm: (a) => (x, w) => rmsNorm(x!, w!, a.eps),
  rope: (a) => (x, c, s, p) => rope(x!, c!, s!, p!, a.inverse),
  swiglu: () => (g, u) => swiglu(g!, u!),
  softmax: () => (x) => softmax(x!),
  maskedSoftmax: (a) => (x, m) => maskedSoftmax(x!, m, a),
  attention: (a) => (q, k, v, m) => attention(q!, k!, v!, { mask: m, causal: a.causal, scale: a.scale, kvLen: a.kvLen }),
  crossEntropy: (a) => (x, l) => crossEntropy(x!, l!, a),
  embedding: () => (w, i) => embedding(w!, i!),
  matmul: (a) => (x, y) => matmul(x!, y!, a),
};

/** max |got − want| / (1 + |want|). */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
    e = Number.isNaN(d) ? Infinity : Math.max(e, d);
  }
  return e;
}

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev?.dispose());

describe.skipIf(!golden)(`ops against torch ${golden?.torch ?? ''}`, () => {
  for (const c of golden?.cases ?? []) {
    it(`${c.name}: the CPU reference gives torch's output`, () => {
      const host: CpuTensor[] = c.inputs.map((x) => ({ shape: x.shape, data: Float64Array.from(x.data) }));
      const out = reference(c.op, c.attrs ?? undefined)(...host);
      expect(out.shape).toEqual(c.out_shape);
      const err = relErr(out.data, c.out);
      expect(err, `${c.name}: CPU reference vs torch, max rel error ${err.toExponential(3)}`).toBeLessThanOrEqual(1e-9);
    });

    it(`${c.name}: the GPU forward and backward give torch's output and gradients`, async () => {
      const fn = GPU[c.op];
      expect(fn, `no GPU mapping for ${c.op}`).toBeDefined();
      const ts = c.inputs.map((x) => keep(tensor(x.data, x.shape, { dtype: x.dtype as DType, requiresGrad: x.grad })));
      try {
        const y = keep(tidy(() => fn!(c.attrs ?? {})(...ts)));
        const got = await y.read();
        const ferr = relErr(got, c.out);
        expect(ferr, `${c.name}: forward max rel error ${ferr.toExponential(3)}`).toBeLessThanOrEqual(1e-4);
        if (c.inputs.some((x) => x.grad)) {
          const w = keep(tensor(c.w, c.out_shape.length ? c.out_shape : []));
          const loss = keep(tidy(() => sum(mul(y, w.reshape([...y.shape])))));
          backward(loss);
          loss.release();
          w.release();
        }
        y.release();
        for (const [i, x] of c.inputs.entries()) {
          if (!x.grad) continue;
          const g = ts[i]!.grad;
          expect(g, `${c.name}: input ${i} got no gradient`).toBeDefined();
          const gerr = relErr(await g!.read(), c.grads[i]!);
          expect(gerr, `${c.name}: gradient of input ${i} max rel error ${gerr.toExponential(3)}`).toBeLessThanOrEqual(1e-3);
        }
      } finally {
        for (const t of ts) {
          t.grad?.release();
          t.release();
        }
      }
    });
  }
});
