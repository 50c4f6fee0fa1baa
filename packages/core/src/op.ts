/**
 * An op is declared once: its float64 CPU reference, its GPU forward (WGSL kernels in the same
 * file) and its backward rule, written with other ops. Nothing is registered anywhere: an op file
 * exports what `defineOp` returns (its `def` stays reachable for tests), so bundlers may drop any op
 * a program does not import. A test walks every op module and checks that no op lacks any of the three.
 */
import type { Tensor } from './tensor';
import { noGrad, record } from './autograd';

/** A host tensor in float64, the reference every GPU result is checked against. */
export interface CpuTensor {
  shape: number[];
  data: Float64Array;
}

export interface BackwardCtx<A> {
  attrs: A;
  /** Tensors chosen by `save` (default: the inputs), kept alive until backward has run. */
  saved: Tensor[];
  inputShapes: (readonly number[])[];
  /** Which inputs need a gradient; a rule may skip the others (a frozen weight's, say). */
  needs: boolean[];
}

export interface OpDef<A> {
  name: string;
  /** Float64 reference of the forward. */
  cpu(inputs: CpuTensor[], attrs: A): CpuTensor;
  /**
   * GPU forward; runs with gradient recording off, so it may call other ops freely. It may also
   * return `[out, extras]`: intermediates (a log-sum-exp, say) that backward receives after the
   * saved tensors and that are released once backward has run.
   */
  gpu(inputs: Tensor[], attrs: A): Tensor | [Tensor, Tensor[]];
  /**
   * Gradients of the inputs given the output's. A string instead explains why the op has none
   * (integer outputs, for instance).
   */
  backward: ((gy: Tensor, ctx: BackwardCtx<A>) => (Tensor | null)[]) | string;
  /** What backward needs; default: the inputs. Saving less keeps activations smaller. */
  save?(inputs: Tensor[], out: Tensor, attrs: A): Tensor[];
}

/** An op ready to apply: `op(inputs, attrs)`; `op.def` is its declaration (for tests and tools). */
export interface Op<A> {
  (inputs: Tensor[], attrs: A): Tensor;
  readonly def: OpDef<A>;
}

/** True for what {@link defineOp} returned. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function isOp(x: unknown): x is Op<any> {
  return typeof x === 'function' && typeof (x as { def?: unknown }).def === 'object';
}

/**
 * Declares an op and returns the function that applies it, recording a tape node when an input
 * needs a gradient. Pure: it registers nothing, so an unused op costs a bundle nothing.
 */
export function defineOp<A>(def: OpDef<A>): Op<A> {
  const apply = (inputs: Tensor[], attrs: A): Tensor => {
    const r = noGrad(() => def.gpu(inputs, attrs));
    const [out, extras] = Array.isArray(r) ? r : [r, []];
    const bw = def.backward;
    if (typeof bw !== 'string') {
      const saved = [...(def.save ? def.save(inputs, out, attrs) : inputs), ...extras];
      const inputShapes = inputs.map((x) => x.shape);
      const needs = inputs.map((x) => x.requiresGrad);
      record(out, def.name, inputs, saved, (gy, s) => bw(gy, { attrs, saved: s, inputShapes, needs }));
    }
    // The tape holds its own references to the extras it needs.
    for (const e of extras) e.release();
    return out;
  };
  return Object.assign(apply, { def });
}
