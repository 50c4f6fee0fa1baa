/**
 * Reverse-mode autograd: ops record a node on their output while grad mode is on and an input
 * requires grad; backward() walks the nodes from the root in reverse topological order,
 * accumulates leaf gradients into `.grad` and frees each node's saved tensors as it goes.
 */
import { Tensor, empty } from './tensor';
import { keep, tidy } from './scope';
import { QError } from './errors';
// Direct imports, no registration at load time: the cycle through the ops is only used inside
// function bodies, so module order never matters and bundlers may tree-shake freely.
import { addInPlace, fillInPlace } from './ops/elementwise';

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  saved: Tensor[];
  /** Gradients of the inputs given the output's gradient (null where an input needs none). */
  backward: (gy: Tensor, saved: Tensor[]) => (Tensor | null)[];
}

let gradEnabled = true;
const tape = new Set<TapeNode>();
/** Outputs whose node a backward() already ran and freed: a second backward through them fails. */
const consumed = new WeakSet<Tensor>();

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs fn without recording gradients (evaluation, generation, optimizer updates).
 *
 * @example
 * ```ts
 * const logits = noGrad(() => model.forward(ids));
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** A reference to t's storage that outlives t itself: what a node saves for its backward. */
export function saveRef(t: Tensor): Tensor {
  return keep(new Tensor(t.storage.retain(), t.shape, t.dtype));
}

/** Attaches a tape node to `out` if any input needs a gradient. Called by every differentiable op. */
export function record(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  saved: Tensor[],
  backward: TapeNode['backward'],
): Tensor {
  if (!gradEnabled || !inputs.some((x) => x.requiresGrad)) return out;
  const node: TapeNode = { op, inputs, saved: saved.map(saveRef), backward };
  tape.add(node);
  out.node = node;
  out.requiresGrad = true;
  return out;
}

function freeNode(n: TapeNode): void {
  for (const s of n.saved) s.release();
  n.saved = [];
  tape.delete(n);
}

/** Number of nodes whose saved tensors are still held (a leak check for tests and the trainer). */
export function tapeSize(): number {
  return tape.size;
}

/** Releases every recorded node, e.g. after a forward that was never differentiated. */
export function clearTape(): void {
  for (const n of [...tape]) freeNode(n);
}

function accumulate(into: Tensor, g: Tensor): void {
  addInPlace(into, g);
}
function onesLike(t: Tensor): Tensor {
  const o = empty(t.shape, t.dtype, t.dev);
  fillInPlace(o, 1);
  return o;
}

/**
 * Backpropagates from `root` (a scalar unless `seed` is given). Trainable leaves receive or add to
 * `.grad` (gradient accumulation); intermediate gradients and the graph's saved tensors are freed.
 *
 * @example
 * ```ts
 * const loss = crossEntropy(logits, labels);
 * backward(loss);
 * console.log(await w.grad!.read());
 * ```
 */
export function backward(root: Tensor, seed?: Tensor): void {
  // PyTorch's rules, with its messages: an implicit gradient only for a scalar, a graph only once.
  if (!seed && root.shape.reduce((a, b) => a * b, 1) !== 1) {
    throw new QError('E_AUTOGRAD', `grad can be implicitly created only for scalar outputs (backward() on a tensor of shape [${root.shape}]: reduce it to a scalar first, e.g. with sum() or mean(), or pass a seed gradient)`);
  }
  if (seed && seed.shape.join() !== root.shape.join()) {
    throw new QError('E_AUTOGRAD', `backward: the seed gradient has shape [${seed.shape}], the output has [${root.shape}]`);
  }
  const freed = (t: Tensor) =>
    new QError('E_AUTOGRAD', `Trying to backward through the graph a second time: the ${t === root ? 'output' : 'graph'}'s saved values were freed by an earlier backward() (gradients would be silently missing); run the forward again`);
  if (consumed.has(root)) throw freed(root);
  if (!root.node && !root.requiresGrad) {
    throw new QError('E_AUTOGRAD', 'element 0 of tensors does not require grad and does not have a grad_fn (backward() on a tensor computed without any input that requires grad)');
  }
  noGrad(() => {
    const order: Tensor[] = [];
    const seen = new Set<Tensor>();
    // Iterative DFS: decoder stacks make recursion deep.
    const stack: [Tensor, number][] = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [t, i] = top;
      if (i === 0) {
        if (seen.has(t)) {
          stack.pop();
          continue;
        }
        seen.add(t);
      }
      const inputs = t.node?.inputs ?? [];
      if (i < inputs.length) {
        top[1]++;
        const x = inputs[i]!;
        if (consumed.has(x)) throw freed(x);
        if (x.requiresGrad && !seen.has(x)) stack.push([x, 0]);
      } else {
        stack.pop();
        order.push(t);
      }
    }
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed ?? onesLike(root));
    const ownedSeed = !seed;
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k]!;
      const g = grads.get(t);
      if (!g) continue;
      const node = t.node;
      if (!node) {
        // A trainable leaf: accumulate across backward calls.
        if (t.grad) accumulate(t.grad, g);
        else t.grad = keep(g);
        if (t.grad !== g && (g !== seed || ownedSeed)) g.release();
        grads.delete(t);
        continue;
      }
      // Temporaries of the rule are freed here; only the input gradients survive.
      const gins = tidy(() => node.backward(g, node.saved));
      freeNode(node);
      t.node = null;
      consumed.add(t);
      if (g !== seed || ownedSeed) g.release();
      grads.delete(t);
      node.inputs.forEach((x, j) => {
        const gx = gins[j];
        if (!gx) return;
        if (!x.requiresGrad) {
          gx.release();
          return;
        }
        keep(gx);
        const prev = grads.get(x);
        if (prev) {
          accumulate(prev, gx);
          gx.release();
        } else grads.set(x, gx);
      });
    }
    for (const g of grads.values()) g.release();
  });
}

/**
 * Gradient checkpointing: runs fn without keeping its activations, and re-runs it during backward.
 * Unlike torch's reentrant checkpoint, the result requires grad even if no input does, so LoRA
 * weights inside fn get gradients without `enable_input_require_grads()`.
 *
 * @example
 * ```ts
 * h = checkpoint((x) => layer.forward(x), h);
 * ```
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, ...inputs: Tensor[]): Tensor {
  if (!gradEnabled) return fn(...inputs);
  // The segment's intermediates are freed as soon as it returns: holding them until the caller's
  // scope ends would keep every layer's activations alive and defeat the point.
  const out = noGrad(() => tidy(() => fn(...inputs)));
  const node: TapeNode = {
    op: 'checkpoint',
    inputs,
    saved: inputs.map(saveRef),
    backward(gy, saved) {
      const detached = saved.map((s, i) => {
        const d = keep(new Tensor(s.storage.retain(), s.shape, s.dtype));
        d.requiresGrad = inputs[i]!.requiresGrad;
        return d;
      });
      let grads: (Tensor | null)[] = [];
      const prev = gradEnabled;
      gradEnabled = true;
      try {
        const y = fn(...detached);
        keep(y);
        if (y.requiresGrad) backward(y, gy);
        y.release();
        grads = detached.map((d) => d.grad);
      } finally {
        gradEnabled = prev;
        for (const d of detached) d.release();
      }
      return grads;
    },
  };
  tape.add(node);
  out.node = node;
  out.requiresGrad = true;
  return out;
}
