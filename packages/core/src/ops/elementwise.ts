/**
 * Elementwise arithmetic. Binary ops broadcast like NumPy; unary ops are one table row each:
 * WGSL expression, float64 reference, and derivative written with other ops.
 * Values are computed in f32 whatever the storage dtype.
 */
// a: [...sa], b: [...sb] -> out: broadcast(sa, sb)
import { defineOp, type CpuTensor, type Op } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE, type DType } from '../dtype';
import { broadcastShapes } from '../shape';
import { ShapeError } from '../errors';
import { broadcastCpu, broadcastIndex } from './expand';
import { sumTo } from './reduce';

type BinaryName = 'add' | 'sub' | 'mul' | 'div';
const BINARY: Record<BinaryName, { wgsl: string; cpu: (a: number, b: number) => number }> = {
  add: { wgsl: 'a + b', cpu: (a, b) => a + b },
  sub: { wgsl: 'a - b', cpu: (a, b) => a - b },
  mul: { wgsl: 'a * b', cpu: (a, b) => a * b },
  div: { wgsl: 'a / b', cpu: (a, b) => a / b },
};

function checkFloat(op: string, ...xs: Tensor[]): DType {
  const d = xs[0]!.dtype;
  for (const x of xs) {
    if (x.dtype !== d) throw new ShapeError(`${op}: dtypes differ (${xs.map((t) => t.dtype).join(', ')}); cast first`);
  }
  if (d !== 'f32' && d !== 'f16') throw new ShapeError(`${op}: needs f32 or f16 tensors, got ${d}`);
  return d;
}

function binaryGpu(name: BinaryName, a: Tensor, b: Tensor): Tensor {
  const dtype = checkFloat(name, a, b);
  const shape = broadcastShapes(a.shape, b.shape, name);
  const y = empty(shape, dtype, a.dev);
  const n = y.size;
  const T = WGSL_TYPE[dtype];
  launch(
    {
      name,
      bindings: [
        { name: 'x0', dtype },
        { name: 'x1', dtype },
        { name: 'y', dtype, access: 'read_write' },
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }
${broadcastIndex('ia', a.shape, shape)}
${broadcastIndex('ib', b.shape, shape)}
let a = f32(x0[ia]); let b = f32(x1[ib]);
y[i] = ${T}(${BINARY[name].wgsl});`,
    },
    [a, b, y],
    grid1d(n),
  );
  return y;
}

function binaryCpu(name: BinaryName, [a, b]: CpuTensor[]): CpuTensor {
  const shape = broadcastShapes(a!.shape, b!.shape);
  const x = broadcastCpu(a!, shape);
  const z = broadcastCpu(b!, shape);
  const f = BINARY[name].cpu;
  return { shape, data: x.map((v, i) => f(v, z[i]!)) };
}

export const addOp = /* @__PURE__ */ defineOp<void>({
  name: 'add',
  cpu: (xs) => binaryCpu('add', xs),
  gpu: ([a, b]) => binaryGpu('add', a!, b!),
  save: () => [],
  backward: (gy, { inputShapes: [sa, sb] }) => [sumTo(gy, sa!), sumTo(gy, sb!)],
});
export const subOp = /* @__PURE__ */ defineOp<void>({
  name: 'sub',
  cpu: (xs) => binaryCpu('sub', xs),
  gpu: ([a, b]) => binaryGpu('sub', a!, b!),
  save: () => [],
  backward: (gy, { inputShapes: [sa, sb] }) => [sumTo(gy, sa!), sumTo(scale(gy, -1), sb!)],
});
export const mulOp = /* @__PURE__ */ defineOp<void>({
  name: 'mul',
  cpu: (xs) => binaryCpu('mul', xs),
  gpu: ([a, b]) => binaryGpu('mul', a!, b!),
  backward: (gy, { saved: [a, b], inputShapes: [sa, sb] }) => [sumTo(mul(gy, b!), sa!), sumTo(mul(gy, a!), sb!)],
});
export const divOp = /* @__PURE__ */ defineOp<void>({
  name: 'div',
  cpu: (xs) => binaryCpu('div', xs),
  gpu: ([a, b]) => binaryGpu('div', a!, b!),
  // d(a/b)/da = 1/b; d(a/b)/db = -a/b²
  backward: (gy, { saved: [a, b], inputShapes: [sa, sb] }) => [
    sumTo(div(gy, b!), sa!),
    sumTo(scale(div(mul(gy, a!), mul(b!, b!)), -1), sb!),
  ],
});

export const add = (a: Tensor, b: Tensor): Tensor => addOp([a, b]);
export const sub = (a: Tensor, b: Tensor): Tensor => subOp([a, b]);
export const mul = (a: Tensor, b: Tensor): Tensor => mulOp([a, b]);
export const div = (a: Tensor, b: Tensor): Tensor => divOp([a, b]);

// ---- unary ops: y = f(x), with a scalar parameter c where the op has one ----
interface UnaryAttrs {
  c: number;
}
interface UnaryRow {
  wgsl: string; // in terms of x (f32) and c
  cpu: (x: number, c: number) => number;
  /** dy/dx times gy, with ops; `x` and `y` are the saved input and output. */
  grad: (gy: Tensor, x: Tensor, y: Tensor, c: number) => Tensor;
  saves: 'x' | 'y' | 'none';
}

type UnaryName = 'scale' | 'addScalar' | 'exp' | 'log' | 'sqrt' | 'square' | 'neg' | 'silu' | 'siluGrad' | 'siluGrad2';
const UNARY: Record<UnaryName, UnaryRow> = {
  scale: { wgsl: 'x * u.c', cpu: (x, c) => x * c, grad: (gy, _x, _y, c) => scale(gy, c), saves: 'none' },
  addScalar: { wgsl: 'x + u.c', cpu: (x, c) => x + c, grad: (gy) => gy.reshape([...gy.shape]), saves: 'none' },
  exp: { wgsl: 'exp(x)', cpu: Math.exp, grad: (gy, _x, y) => mul(gy, y), saves: 'y' },
  log: { wgsl: 'log(x)', cpu: Math.log, grad: (gy, x) => div(gy, x), saves: 'x' },
  sqrt: { wgsl: 'sqrt(x)', cpu: Math.sqrt, grad: (gy, _x, y) => scale(div(gy, y), 0.5), saves: 'y' },
  square: { wgsl: 'x * x', cpu: (x) => x * x, grad: (gy, x) => scale(mul(gy, x), 2), saves: 'x' },
  neg: { wgsl: '-x', cpu: (x) => -x, grad: (gy) => scale(gy, -1), saves: 'none' },
  // silu(x) = x·σ(x); silu'(x) = σ(x)·(1 + x·(1 − σ(x)))
  silu: { wgsl: 'x / (1.0 + exp(-x))', cpu: (x) => x / (1 + Math.exp(-x)), grad: (gy, x) => mul(gy, unary('siluGrad', x)), saves: 'x' },
  siluGrad: {
    wgsl: '(1.0 / (1.0 + exp(-x))) * (1.0 + x * (1.0 - 1.0 / (1.0 + exp(-x))))',
    cpu: (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    },
    grad: (gy, x) => mul(gy, unary('siluGrad2', x)),
    saves: 'x',
  },
  // Second derivative of silu, so siluGrad itself has a checked gradient: σ'(x)·(2 + x·(1 − 2σ)).
  siluGrad2: {
    wgsl: '(1.0 / (1.0 + exp(-x))) * (1.0 - 1.0 / (1.0 + exp(-x))) * (2.0 + x * (1.0 - 2.0 / (1.0 + exp(-x))))',
    cpu: (x) => {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 - s) * (2 + x * (1 - 2 * s));
    },
    grad: () => {
      throw new ShapeError('third derivative of silu is not implemented');
    },
    saves: 'none',
  },
};
export type { UnaryName };

/** The unary table's ops by name (each applies one row of UNARY). */
export const unaryOps = Object.fromEntries(
  (Object.entries(UNARY) as [UnaryName, UnaryRow][]).map(([name, row]) => [
    name,
    defineOp<UnaryAttrs>({
      name,
      cpu: ([x], { c }) => ({ shape: x!.shape, data: x!.data.map((v) => row.cpu(v, c)) }),
      gpu: ([x], { c }) => {
        const dtype = checkFloat(name, x!);
        const y = empty(x!.shape, dtype, x!.dev);
        const n = y.size;
        launch(
          {
            name,
            bindings: [
              { name: 'xs', dtype },
              { name: 'y', dtype, access: 'read_write' },
            ],
            uniforms: [['c', 'f32']],
            body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }\nlet x = f32(xs[i]);\ny[i] = ${WGSL_TYPE[dtype]}(${row.wgsl});`,
          },
          [x!, y],
          grid1d(n),
          [c],
        );
        return y;
      },
      save: ([x], y) => (row.saves === 'x' ? [x!] : row.saves === 'y' ? [y] : []),
      backward: (gy, { saved, attrs }) => [row.grad(gy, saved[0]!, saved[0]!, attrs.c)],
    }),
  ]),
) as Record<UnaryName, Op<UnaryAttrs>>;

/** Applies a unary op from the table by name. */
export function unary(name: UnaryName, x: Tensor, c = 0): Tensor {
  return unaryOps[name]([x], { c });
}
export const scale = (x: Tensor, c: number): Tensor => unary('scale', x, c);
export const addScalar = (x: Tensor, c: number): Tensor => unary('addScalar', x, c);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const silu = (x: Tensor): Tensor => unary('silu', x);

// ---- in-place helpers (no autograd): gradient accumulation and fills ----
/** dst += src, elementwise, same shape; used to accumulate gradients without new buffers. */
export function addInPlace(dst: Tensor, src: Tensor, alpha = 1): void {
  if (dst.size !== src.size) throw new ShapeError(`addInPlace: [${dst.shape}] vs [${src.shape}]`);
  const T = WGSL_TYPE[dst.dtype];
  launch(
    {
      name: 'add_inplace',
      bindings: [
        { name: 'y', dtype: dst.dtype, access: 'read_write' },
        { name: 'x', dtype: src.dtype },
      ],
      uniforms: [
        ['n', 'u32'],
        ['alpha', 'f32'],
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= u.n) { return; }\ny[i] = ${T}(f32(y[i]) + u.alpha * f32(x[i]));`,
    },
    [dst, src],
    grid1d(dst.size),
    [dst.size, alpha],
  );
}

/** Sets every element of t to v (no autograd). */
export function fillInPlace(t: Tensor, v: number): void {
  const T = WGSL_TYPE[t.dtype];
  launch(
    {
      name: 'fill',
      bindings: [{ name: 'y', dtype: t.dtype, access: 'read_write' }],
      uniforms: [
        ['n', 'u32'],
        ['v', 'f32'],
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= u.n) { return; }\ny[i] = ${T}(u.v);`,
    },
    [t],
    grid1d(t.size),
    [t.size, v],
  );
}
