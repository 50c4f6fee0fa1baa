/**
 * Scoped release, like tf.tidy: tensors created inside `tidy(fn)` are released when it returns,
 * except those it returns or that were passed to `keep()`.
 */
import type { Tensor } from './tensor';

const stack: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes a tensor from every enclosing scope, so only an explicit release() frees it. */
export function keep<T extends Tensor | null | undefined>(t: T): T {
  if (t) for (const s of stack) s.delete(t);
  return t;
}

type Result = Tensor | Tensor[] | Record<string, Tensor> | void | undefined | null | number;

function collect(r: unknown, out: Set<Tensor>): void {
  if (!r || typeof r !== 'object') return;
  if ((r as Tensor).storage !== undefined && (r as Tensor).shape !== undefined) {
    out.add(r as Tensor);
    return;
  }
  for (const v of Array.isArray(r) ? r : Object.values(r)) collect(v, out);
}

/**
 * Runs fn and releases the tensors it created, except the ones it returns (which move to the
 * enclosing scope).
 *
 * @example
 * ```ts
 * const loss = tidy(() => crossEntropy(matmul(x, w), labels));
 * ```
 */
export function tidy<T extends Result | Promise<Result> | unknown>(fn: () => T): T {
  const scope = new Set<Tensor>();
  stack.push(scope);
  let popped = false;
  const finish = (r: unknown) => {
    if (!popped) {
      popped = true;
      stack.splice(stack.lastIndexOf(scope), 1);
    }
    const kept = new Set<Tensor>();
    collect(r, kept);
    for (const t of scope) if (!kept.has(t)) t.release();
    const parent = stack[stack.length - 1];
    if (parent) for (const t of kept) if (scope.has(t)) parent.add(t);
  };
  try {
    const r = fn();
    if (r instanceof Promise) {
      // NOTE: an async body shares the scope stack with whatever runs while it awaits; keep
      // async tidy bodies free of concurrent tensor work.
      return r.then(
        (v) => (finish(v), v),
        (e) => {
          finish(undefined);
          throw e;
        },
      ) as T;
    }
    finish(r);
    return r;
  } catch (e) {
    finish(undefined);
    throw e;
  }
}
