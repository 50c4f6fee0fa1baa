/**
 * A tensor is a shape, a dtype and a reference to GPU storage. Storage is reference-counted:
 * views (reshape) and the autograd tape share it, and the buffer goes back to the pool when the
 * last reference is released.
 */
import { DTYPE_BYTES, numel, type DType } from './dtype';
import { device, type QDevice } from './runtime';
import { ShapeError } from './errors';
import { track } from './scope';
import { record, type TapeNode } from './autograd';
import { f16ToF32 } from './io/dtype-codecs';

export class Storage {
  refs = 1;
  constructor(
    readonly dev: QDevice,
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) this.dev.pool.release(this.buffer);
  }
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  requiresGrad = false;
  /** Accumulated gradient of a trainable leaf. */
  grad: Tensor | null = null;
  /** Set by the tape when this tensor is an op's output. */
  node: TapeNode | null = null;
  name?: string;
  private released = false;

  constructor(
    readonly storage: Storage,
    shape: readonly number[],
    readonly dtype: DType,
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = numel(shape);
    track(this);
  }

  get dev(): QDevice {
    return this.storage.dev;
  }
  get buffer(): GPUBuffer {
    if (this.released) throw new ShapeError(`tensor ${this.name ?? this.id} [${this.shape}] was used after release()`);
    return this.storage.buffer;
  }
  get bytes(): number {
    return this.size * DTYPE_BYTES[this.dtype];
  }
  get rank(): number {
    return this.shape.length;
  }
  get isReleased(): boolean {
    return this.released;
  }

  /** Gives this tensor's storage reference back; the buffer returns to the pool with the last one. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.storage.release();
    // The node stays: a released intermediate is still a path for gradients to its inputs.
  }

  /** A view with another shape over the same storage (no copy). */
  reshape(shape: number[]): Tensor {
    const s = inferShape(shape, this.size);
    const v = new Tensor(this.storage.retain(), s, this.dtype);
    return record(v, 'reshape', [this], [], (gy) => [gy.reshape([...this.shape])]);
  }

  /** Reads the data back to the host. f16 is returned widened to Float32Array. */
  async read(): Promise<Float32Array | Int32Array | Uint32Array> {
    const bytes = await this.dev.read(this.buffer, 0, this.bytes);
    switch (this.dtype) {
      case 'f32':
        return new Float32Array(bytes);
      case 'f16':
        return f16ToF32(new Uint16Array(bytes));
      case 'i32':
        return new Int32Array(bytes);
      case 'u32':
        return new Uint32Array(bytes);
    }
  }

  /** Reads as a plain array of numbers (small tensors and tests). */
  async toArray(): Promise<number[]> {
    return Array.from(await this.read());
  }

  /** Reads a single-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError(`item() needs one element, tensor has shape [${this.shape}]`);
    return (await this.read())[0]!;
  }

  toString(): string {
    return `Tensor(${this.name ?? this.id}, [${this.shape}], ${this.dtype})`;
  }
}

function inferShape(shape: number[], size: number): number[] {
  const neg = shape.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(shape.filter((_, i) => i !== neg));
    if (rest === 0 || size % rest !== 0) throw new ShapeError(`cannot reshape ${size} elements to [${shape}]`);
    shape = shape.map((s, i) => (i === neg ? size / rest : s));
  }
  if (numel(shape) !== size) throw new ShapeError(`cannot reshape ${size} elements to [${shape}]`);
  return shape;
}

/** Allocates an uninitialised tensor from the pool. */
export function empty(shape: readonly number[], dtype: DType = 'f32', dev: QDevice = device()): Tensor {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new ShapeError(`bad shape [${shape}]: dimensions must be non-negative integers`);
  }
  const bytes = Math.max(4, numel(shape) * DTYPE_BYTES[dtype]);
  const max = dev.gpu.limits.maxBufferSize;
  if (bytes > max) throw new ShapeError(`tensor [${shape}] ${dtype} needs ${bytes} bytes, over this adapter's maxBufferSize ${max}`);
  return new Tensor(new Storage(dev, dev.pool.acquire(bytes), bytes), shape, dtype);
}
