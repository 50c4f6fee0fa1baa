/**
 * One line per case: an op's forward against its float64 CPU reference, and its backward against
 * central finite differences of that reference (float64, so the reference gradient is exact to
 * ~1e-8). The loss is Σ out·w with seeded random w, so every output element's gradient counts.
 */
import { Tensor } from '../tensor';
import { tensor } from '../create';
import { backward } from '../autograd';
import type { CpuTensor, Op } from '../op';
import { coreOps } from './all-ops';
import { tidy, keep } from '../scope';
import { Rng } from '../random';
import { numel, type DType } from '../dtype';
import { mul } from '../ops/elementwise';
import { sum } from '../ops/reduce';

export interface Input {
  shape: number[];
  /** Values; seeded N(0,1) when omitted. */
  data?: ArrayLike<number>;
  dtype?: DType;
  /** Whether to check this input's gradient (default: float inputs). */
  grad?: boolean;
}

export interface CheckOptions {
  /** Max |gpu - ref| / (1 + |ref|) for the forward. */
  tol?: number;
  /** Same measure for gradients. */
  gradTol?: number;
  seed?: number;
  /** Skip the gradient check (ops without backward). */
  noGrad?: boolean;
  /** Finite-difference step. */
  eps?: number;
}

export interface CheckResult {
  forwardErr: number;
  gradErr: number[];
}

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : Math.max(e, d);
  }
  return e;
}

/**
 * Runs `gpu` on the device and `cpu` on float64 copies of the same inputs, then compares values
 * and gradients; throws with the largest difference if a tolerance is exceeded.
 *
 * @example
 * ```ts
 * await checkOp('silu', (x) => silu(x), (x) => ref('silu', x), [{ shape: [3, 5] }]);
 * ```
 */
export async function checkOp(
  name: string,
  gpu: (...xs: Tensor[]) => Tensor,
  cpu: (...xs: CpuTensor[]) => CpuTensor,
  inputs: Input[],
  o: CheckOptions = {},
): Promise<CheckResult> {
  const rng = new Rng(o.seed ?? 1234);
  const host = inputs.map((inp) => {
    const n = numel(inp.shape);
    const d = new Float64Array(n);
    for (let i = 0; i < n; i++) d[i] = inp.data ? inp.data[i]! : rng.normal();
    // Round to the storage precision so the reference sees the same inputs as the GPU.
    const stored = inp.dtype === 'f16' || inp.dtype === 'i32' || inp.dtype === 'u32' ? d : Float64Array.from(Float32Array.from(d));
    return { shape: inp.shape, data: stored };
  });
  const ref = cpu(...host);
  const w = new Float64Array(ref.data.length);
  for (let i = 0; i < w.length; i++) w[i] = Float32Array.of(rng.normal())[0]!;
  const wantGrad = inputs.map((inp, i) => !o.noGrad && (inp.grad ?? (inp.dtype ?? 'f32').startsWith('f')) && host[i]!.data.length > 0);

  const ts = inputs.map((inp, i) => keep(tensor(host[i]!.data, inp.shape, { dtype: inp.dtype ?? 'f32', requiresGrad: wantGrad[i] })));
  let out: Float32Array | Int32Array | Uint32Array;
  const grads: (Float32Array | null)[] = [];
  try {
    const y = keep(tidy(() => gpu(...ts)));
    out = await y.read();
    if (wantGrad.some(Boolean)) {
      const wt = keep(tensor(w, ref.shape.length ? ref.shape : [], { dtype: y.dtype }));
      const loss = keep(tidy(() => sum(mul(y, wt.reshape([...y.shape])))));
      backward(loss);
      loss.release();
      wt.release();
    }
    y.release();
    for (const t of ts) grads.push(t.grad ? ((await t.grad.read()) as Float32Array) : null);
  } finally {
    for (const t of ts) {
      t.grad?.release();
      t.release();
    }
  }
  const forwardErr = maxRelErr(out, ref.data);
  const tol = o.tol ?? 1e-4;
  if (!(forwardErr <= tol)) throw new Error(`${name}: forward max rel error ${forwardErr.toExponential(3)} > ${tol}`);

  const gradErr: number[] = [];
  const eps = o.eps ?? 1e-6;
  const gtol = o.gradTol ?? 1e-3;
  host.forEach((h, i) => {
    if (!wantGrad[i]) return;
    const fd = new Float64Array(h.data.length);
    const f = () => {
      const r = cpu(...host).data;
      let s = 0;
      for (let k = 0; k < r.length; k++) s += r[k]! * w[k]!;
      return s;
    };
    for (let k = 0; k < h.data.length; k++) {
      const x0 = h.data[k]!;
      h.data[k] = x0 + eps;
      const fp = f();
      h.data[k] = x0 - eps;
      const fm = f();
      h.data[k] = x0;
      fd[k] = (fp - fm) / (2 * eps);
    }
    const g = grads[i];
    if (!g) throw new Error(`${name}: input ${i} got no gradient`);
    const e = maxRelErr(g, fd);
    gradErr.push(e);
    if (!(e <= gtol)) throw new Error(`${name}: gradient of input ${i} max rel error ${e.toExponential(3)} > ${gtol}`);
  });
  return { forwardErr, gradErr };
}

/**
 * The float64 reference of an op, for use as `cpu` in {@link checkOp}: a core op by name, or any
 * op (another package's) by what `defineOp` returned.
 */
export function reference<A>(op: string | Op<A>, attrs?: A): (...xs: CpuTensor[]) => CpuTensor {
  const def = typeof op === 'string' ? coreOps().get(op)?.def : op.def;
  if (!def) throw new Error(`no op named ${op} among @q/core's ops (pass another package's op itself)`);
  return (...xs) => def.cpu(xs, attrs as A);
}
