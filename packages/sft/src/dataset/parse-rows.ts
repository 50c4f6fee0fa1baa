/**
 * Rows from the bytes of a .json, .jsonl or .parquet file. No file-system access here, so a
 * browser can pass the contents of a File; errors name the file and the line or row.
 */
import { FormatError } from '@q/core';
import type { Row } from './dataset';
import { setRowOrigin } from './row-origin';

/** File formats a dataset may come in. */
export type DatasetFormat = 'json' | 'jsonl' | 'parquet';

/** The format implied by a file name's extension, or undefined. */
export function formatOf(name: string): DatasetFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.parquet')) return 'parquet';
  return undefined;
}

/**
 * Parses a dataset file's contents into rows. `name` is used for the format (by extension) and
 * in error messages.
 *
 * @example
 * ```ts
 * const rows = await parseRows('train.jsonl', await file.arrayBuffer()) // in a browser
 * ```
 */
export async function parseRows(name: string, data: ArrayBuffer | Uint8Array | string): Promise<Row[]> {
  const format = formatOf(name);
  if (format === undefined) throw new FormatError(name, 'unsupported file type; expected .json, .jsonl or .parquet');
  if (format === 'parquet') {
    if (typeof data === 'string') throw new FormatError(name, 'parquet data must be bytes, not text');
    return parseParquet(name, data);
  }
  const text = typeof data === 'string' ? data : decodeUtf8(name, data);
  return format === 'jsonl' ? parseJsonl(name, text) : parseJson(name, text);
}

/** JSON Lines: one object per non-blank line. */
export function parseJsonl(name: string, text: string): Row[] {
  const rows: Row[] = [];
  const lines = stripBom(text).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new FormatError(name, `line ${i + 1}: malformed JSON (${(e as Error).message})`);
    }
    if (!isRow(value)) throw new FormatError(name, `line ${i + 1}: expected a JSON object, got ${kind(value)}`);
    setRowOrigin(value, `${name} line ${i + 1}`);
    rows.push(value);
  }
  return rows;
}

/** JSON: an array of objects, or an object whose `data` field is one (as `load_dataset("json", field="data")`). */
export function parseJson(name: string, text: string): Row[] {
  let value: unknown;
  try {
    value = JSON.parse(stripBom(text));
  } catch (e) {
    // A .json file holding JSON Lines is common; say so instead of a bare parse error.
    const hint = text.trimStart().startsWith('{') && text.trim().includes('\n') ? '; if it holds one object per line, name it .jsonl' : '';
    throw new FormatError(name, `malformed JSON (${(e as Error).message})${hint}`);
  }
  const rows = Array.isArray(value) ? value : isRow(value) && Array.isArray(value.data) ? value.data : undefined;
  if (rows === undefined) throw new FormatError(name, 'expected an array of rows or an object with a "data" array');
  rows.forEach((r: unknown, i: number) => {
    if (!isRow(r)) throw new FormatError(name, `row ${i}: expected a JSON object, got ${kind(r)}`);
    setRowOrigin(r, `${name} row ${i}`);
  });
  return rows as Row[];
}

/** Parquet through hyparquet; INT64 values that fit a double become numbers. */
export async function parseParquet(name: string, data: ArrayBuffer | Uint8Array): Promise<Row[]> {
  const { parquetReadObjects } = await import('hyparquet');
  const buffer =
    data instanceof Uint8Array ? (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer) : data;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: buffer });
  } catch (e) {
    throw new FormatError(name, `cannot read parquet: ${(e as Error).message}`);
  }
  return rows.map((row, i) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(row)) out[k] = toSafeNumber(v);
    setRowOrigin(out, `${name} row ${i}`);
    return out;
  });
}

function toSafeNumber(v: unknown): unknown {
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(v);
  return v;
}

function isRow(v: unknown): v is Row {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * Strict UTF-8: a file in another encoding is refused at its first bad byte, as Python's
 * datasets does, instead of being read with replacement characters.
 */
function decodeUtf8(name: string, data: ArrayBuffer | Uint8Array): string {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const lo = firstInvalidUtf8(bytes);
    let line = 1;
    for (let k = 0; k < lo; k++) if (bytes[k] === 0x0a) line++;
    throw new FormatError(name, `not valid UTF-8 at byte ${lo} (line ${line}); save the file as UTF-8`);
  }
}

/** Offset of the first byte that starts no valid UTF-8 sequence (WHATWG's decoder rules). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return b.length;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
