/** Tensor creation: from host arrays, constants, and seeded random values. */
import { Tensor, empty } from './tensor';
import { device, type QDevice } from './runtime';
import { numel, type DType } from './dtype';
import { ShapeError, ValueError } from './errors';
import { f32ToF16 } from './io/dtype-codecs';
import { fillInPlace } from './ops/elementwise';
import { Rng } from './random';

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  dev?: QDevice;
  name?: string;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  t.requiresGrad = o.requiresGrad ?? false;
  if (o.name) t.name = o.name;
  return t;
}

/**
 * Uploads host data as a tensor (f32 by default). For f16, a Uint16Array is taken as raw half
 * bits and any other array is converted on the host.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2, 3, 4], [2, 2]);
 * const ids = tensor([5, 7], [2], { dtype: 'i32' });
 * ```
 */
export function tensor(data: ArrayLike<number> | ArrayBufferView, shape: number[], o: CreateOptions = {}): Tensor {
  const dtype = o.dtype ?? 'f32';
  const n = numel(shape);
  const len = (data as ArrayLike<number>).length;
  if (len !== n) throw new ShapeError(`tensor: ${len} values do not fill shape [${shape}] (${n} elements)`);
  let host: ArrayBufferView;
  if (dtype === 'f32') host = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  else if (dtype === 'f16') host = data instanceof Uint16Array ? data : f32ToF16(data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>));
  else if (dtype === 'i32') host = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>);
  else host = data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>);
  const t = empty(shape, dtype, o.dev ?? device());
  if (n > 0) {
    // writeBuffer needs a multiple of 4 bytes.
    const bytes = host.byteLength;
    if (bytes % 4 !== 0) {
      const padded = new Uint8Array(bytes + (4 - (bytes % 4)));
      padded.set(new Uint8Array(host.buffer, host.byteOffset, bytes));
      t.dev.write(t.buffer, 0, padded);
    } else t.dev.write(t.buffer, 0, host);
  }
  return finish(t, o);
}

/** A tensor filled with v. */
export function full(shape: number[], v: number, o: CreateOptions = {}): Tensor {
  const t = empty(shape, o.dtype ?? 'f32', o.dev ?? device());
  if (t.size > 0) fillInPlace(t, v);
  return finish(t, o);
}
export const zeros = (shape: number[], o: CreateOptions = {}): Tensor => full(shape, 0, o);
export const ones = (shape: number[], o: CreateOptions = {}): Tensor => full(shape, 1, o);

/** Seeded N(mean, std²) values, generated on the host so every device gets the same numbers. */
export function randn(shape: number[], seed: number, o: CreateOptions & { mean?: number; std?: number } = {}): Tensor {
  const rng = new Rng(seed);
  const d = new Float32Array(numel(shape));
  const m = o.mean ?? 0;
  const s = o.std ?? 1;
  for (let i = 0; i < d.length; i++) d[i] = m + s * rng.normal();
  return tensor(d, shape, o);
}

/** Seeded uniform values in [low, high). */
export function rand(shape: number[], seed: number, o: CreateOptions & { low?: number; high?: number } = {}): Tensor {
  const rng = new Rng(seed);
  const d = new Float32Array(numel(shape));
  const lo = o.low ?? 0;
  const hi = o.high ?? 1;
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rng.next();
  return tensor(d, shape, o);
}

/** Rejects NaN and ±Inf in host data, naming where the first one is. */
export function assertFinite(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new ValueError(`${what}: non-finite value ${data[i]} at index ${i}`);
  }
}
