import { ShapeError, ValueError } from '../errors';
import type { ByteSink } from './byte-source';
import { memorySink } from './byte-source';
import { dtypeByteLength, dtypeRank, isSafetensorsDtype, SAFETENSORS_DTYPES, type SafetensorsDtype } from './safetensors-dtype';
import { bytesOf, type TypedArray } from './typed-array';

/** A tensor to write: raw little-endian bytes or a typed array holding them. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array | TypedArray;
}

/** A tensor to write whose data may be produced only when its turn comes (e.g. read back from a GPU). */
export interface LazySafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array | TypedArray | (() => Uint8Array | TypedArray | Promise<Uint8Array | TypedArray>);
}

/** The layout a writer will produce: header bytes (length prefix included) and tensor order. */
export interface SafetensorsPlan {
  header: Uint8Array;
  order: string[];
  /** Bytes of each tensor, in `order`. */
  sizes: number[];
  /** Total file size: header.length + sum(sizes). */
  fileSize: number;
}

/**
 * Lays out a safetensors file the way the reference writer does (safetensors/src/tensor.rs
 * `prepare`): tensors sorted by descending dtype alignment then by name, `__metadata__` first,
 * compact JSON padded with spaces to a multiple of 8 so every tensor starts aligned.
 *
 * @example
 * ```ts
 * planSafetensors({ w: { dtype: 'F32', shape: [2, 3] } }).fileSize // 8 + header + 24
 * ```
 */
export function planSafetensors(
  tensors: Record<string, { dtype: SafetensorsDtype; shape: number[] }>,
  metadata?: Record<string, string>,
): SafetensorsPlan {
  const entries = Object.entries(tensors).map(([name, t]) => [name, t, checkEntry(name, t)] as const);
  entries.sort(([an, a], [bn, b]) => dtypeRank(b.dtype) - dtypeRank(a.dtype) || compareCodePoints(an, bn));

  const parts: string[] = [];
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ValueError(`safetensors metadata "${k}" must be a string, got ${typeof v}`);
    }
    // Built by hand: JSON.stringify would move integer-like keys to the front.
    const m = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`"__metadata__":{${m.join(',')}}`);
  }
  let offset = 0;
  for (const [name, t, n] of entries) {
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + n}]}`);
    offset += n;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, order: entries.map(([n]) => n), sizes: entries.map(([, , n]) => n), fileSize: header.length + offset };
}

/**
 * Serializes tensors to one safetensors buffer, byte-identical to Python's `safetensors.torch.save`.
 *
 * @example
 * ```ts
 * const bytes = serializeSafetensors({ 'lora_A.weight': { dtype: 'F32', shape: [8, 64], data: a } }, { format: 'pt' });
 * ```
 */
export function serializeSafetensors(tensors: Record<string, SafetensorsEntry>, metadata?: Record<string, string>): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const out = new Uint8Array(plan.fileSize);
  out.set(plan.header, 0);
  let o = plan.header.length;
  plan.order.forEach((name, i) => {
    out.set(checkData(name, tensors[name].data, plan.sizes[i]), o);
    o += plan.sizes[i];
  });
  return out;
}

/**
 * Writes a safetensors file chunk by chunk to `sink` (header, then one tensor at a time), so a
 * large model is never one buffer. Lazy `data` functions are called in file order, one at a time.
 * Resolves to the number of bytes written.
 *
 * @example
 * ```ts
 * await writeSafetensors({ w: { dtype: 'F16', shape: [n], data: () => readBack(w) } }, sink, { format: 'pt' });
 * ```
 */
export async function writeSafetensors(
  tensors: Record<string, LazySafetensorsEntry>,
  sink: ByteSink,
  metadata?: Record<string, string>,
): Promise<number> {
  const plan = planSafetensors(tensors, metadata);
  await sink.write(plan.header);
  for (let i = 0; i < plan.order.length; i++) {
    const name = plan.order[i];
    const d = tensors[name].data;
    await sink.write(checkData(name, typeof d === 'function' ? await d() : d, plan.sizes[i]));
  }
  return plan.fileSize;
}

/** Convenience: {@link writeSafetensors} into memory. */
export async function serializeSafetensorsAsync(
  tensors: Record<string, LazySafetensorsEntry>,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const sink = memorySink();
  await writeSafetensors(tensors, sink, metadata);
  return sink.bytes();
}

/** Byte size of a tensor entry, validating its name, dtype and shape. */
export function entryByteLength(name: string, t: { dtype: unknown; shape: unknown }): number {
  return checkEntry(name, t);
}

function checkEntry(name: string, t: { dtype: unknown; shape: unknown }): number {
  if (name === '__metadata__') throw new ValueError('"__metadata__" is reserved in safetensors and cannot name a tensor');
  if (!isSafetensorsDtype(t.dtype)) {
    throw new ValueError(`tensor "${name}": dtype ${JSON.stringify(t.dtype)} is not one of ${SAFETENSORS_DTYPES.join(', ')}`);
  }
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ShapeError(`tensor "${name}": shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
  }
  const n = dtypeByteLength(t.dtype, shape.reduce((a: number, b: number) => a * b, 1));
  if (n === undefined) throw new ShapeError(`tensor "${name}": shape [${shape.join(', ')}] of ${t.dtype} is not a whole number of bytes`);
  return n;
}

function checkData(name: string, data: Uint8Array | TypedArray, expected: number): Uint8Array {
  const bytes = bytesOf(data);
  if (bytes.length !== expected) {
    throw new ShapeError(`tensor "${name}": data holds ${bytes.length} bytes but dtype and shape need ${expected}`);
  }
  return bytes;
}

/** Orders strings by code point, which is the byte order of their UTF-8 (Rust's `str::cmp`). */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}
