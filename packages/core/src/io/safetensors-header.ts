import { FormatError } from '../errors';
import type { ByteSource } from './byte-source';
import { bytesSource } from './byte-source';
import { SAFETENSORS_DTYPES, dtypeByteLength, isSafetensorsDtype, type SafetensorsDtype } from './safetensors-dtype';

/** Same cap as the reference reader (safetensors/src/tensor.rs `MAX_HEADER_SIZE`). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** One tensor's entry in a safetensors header. */
export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  /** Length of the JSON header in bytes (including its padding), as stored in the first 8 bytes. */
  headerLength: number;
  /** Absolute file offset where tensor data begins: 8 + headerLength. */
  dataStart: number;
  /** Tensors in file order (ascending offsets). */
  tensors: SafetensorsTensorInfo[];
  /** The optional `__metadata__` string map. */
  metadata?: Record<string, string>;
}

/**
 * Reads and validates the header of a safetensors file: only the first 8 + N bytes are read.
 * Every failure is a FormatError naming the file, the tensor and what was expected.
 *
 * @example
 * ```ts
 * const header = await parseSafetensorsHeader(fileBytes, 'model.safetensors');
 * header.tensors.map((t) => t.name);
 * ```
 */
export async function parseSafetensorsHeader(
  source: Uint8Array | ByteSource,
  fileName: string,
): Promise<SafetensorsHeader> {
  const src = source instanceof Uint8Array ? bytesSource(source) : source;
  if (src.size < 8) {
    throw new FormatError(fileName, `file is ${src.size} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const head = await src.read(0, 8);
  const n = readU64(head);
  if (!Number.isFinite(n)) {
    // Past 2^53 a number cannot hold it: say the exact value, not "Infinity".
    const exact = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    throw new FormatError(fileName, `header length ${exact} exceeds the ${MAX_SAFETENSORS_HEADER_BYTES}-byte cap; not a safetensors file?`);
  }
  checkHeaderLength(n, src.size, fileName);
  return decodeSafetensorsHeader(await src.read(8, n), src.size, fileName);
}

/** Little-endian u64 as a number; values past 2^53 come back as Infinity so size checks reject them. */
function readU64(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  return hi >= 0x200000 ? Infinity : hi * 2 ** 32 + lo;
}

function checkHeaderLength(n: number, fileSize: number, fileName: string): void {
  if (n > MAX_SAFETENSORS_HEADER_BYTES) {
    throw new FormatError(fileName, `header length ${n} exceeds the ${MAX_SAFETENSORS_HEADER_BYTES}-byte cap; not a safetensors file?`);
  }
  if (8 + n > fileSize) {
    throw new FormatError(fileName, `header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  }
}

/**
 * Validates the JSON header bytes (`json`, the N bytes after the length) of a file of `fileSize` bytes.
 * Exposed for callers that already hold the bytes; most want {@link parseSafetensorsHeader}.
 *
 * @example
 * ```ts
 * const header = decodeSafetensorsHeader(jsonBytes, fileSize, 'model.safetensors');
 * ```
 */
export function decodeSafetensorsHeader(json: Uint8Array, fileSize: number, fileName: string): SafetensorsHeader {
  const n = json.length;
  checkHeaderLength(n, fileSize, fileName);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new FormatError(fileName, 'header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new FormatError(fileName, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FormatError(fileName, 'header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}');
  }

  let metadata: Record<string, string> | undefined;
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(entry, fileName);
      continue;
    }
    tensors.push(checkEntry(name, entry, fileName));
  }

  // Files need not list tensors in offset order; the data must still tile the section exactly.
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  const dataSize = fileSize - 8 - n;
  let expectedBegin = 0;
  let prev: string | undefined;
  for (const t of tensors) {
    const [begin, end] = t.dataOffsets;
    if (begin !== expectedBegin) {
      const where = prev === undefined ? 'the data section starts at 0' : `tensor "${prev}" ends at ${expectedBegin}`;
      const what = begin < expectedBegin ? 'overlaps the previous tensor' : 'leaves a gap';
      throw new FormatError(fileName, `tensor "${t.name}": data_offsets [${begin}, ${end}] ${what}; expected it to begin at ${expectedBegin} (${where})`);
    }
    if (end > dataSize) {
      throw new FormatError(fileName, `tensor "${t.name}": data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data section (truncated file?)`);
    }
    expectedBegin = end;
    prev = t.name;
  }
  if (expectedBegin !== dataSize) {
    throw new FormatError(fileName, `tensors cover ${expectedBegin} bytes but the data section holds ${dataSize}; expected the last tensor to end at the end of the file`);
  }
  return { headerLength: n, dataStart: 8 + n, tensors, ...(metadata ? { metadata } : {}) };
}

function checkMetadata(entry: unknown, fileName: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new FormatError(fileName, '"__metadata__" must be an object of string values');
  }
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') {
      throw new FormatError(fileName, `"__metadata__"."${k}" must be a string, got ${JSON.stringify(v)}`);
    }
  }
  return { ...(entry as Record<string, string>) };
}

function checkEntry(name: string, entry: unknown, fileName: string): SafetensorsTensorInfo {
  const bad = (detail: string) => new FormatError(fileName, `tensor "${name}": ${detail}`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw bad('entry must be an object {dtype, shape, data_offsets}');
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) {
    throw bad(`dtype ${JSON.stringify(dtype)} is not one of ${SAFETENSORS_DTYPES.join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(`shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} must be [begin, end] with 0 <= begin <= end`);
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const nbytes = Number.isSafeInteger(numel) ? dtypeByteLength(dtype, numel) : undefined;
  if (nbytes === undefined) {
    throw bad(`shape [${shape.join(', ')}] of ${dtype} does not fill a whole number of bytes`);
  }
  const [begin, end] = offsets as [number, number];
  if (end - begin !== nbytes) {
    throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${nbytes}`);
  }
  return { name, dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
