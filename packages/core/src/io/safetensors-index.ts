import { FormatError } from '../errors';

/** File name transformers uses for the index of a sharded safetensors checkpoint. */
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';

/** The contents of `model.safetensors.index.json`. */
export interface SafetensorsIndex {
  /** `total_size` is the sum of tensor bytes (headers excluded); other keys pass through. */
  metadata: { total_size: number; [key: string]: unknown };
  /** Tensor name → shard file name (relative to the index). */
  weight_map: Record<string, string>;
}

/**
 * Validates a parsed (or raw JSON text) sharded-checkpoint index.
 *
 * @example
 * ```ts
 * const index = parseSafetensorsIndex(await readFile(p, 'utf8'), p);
 * const shards = new Set(Object.values(index.weight_map));
 * ```
 */
export function parseSafetensorsIndex(json: unknown, fileName: string): SafetensorsIndex {
  let v = json;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (e) {
      throw new FormatError(fileName, `not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(v)) throw new FormatError(fileName, 'expected a JSON object with "metadata" and "weight_map"');
  const { metadata, weight_map: map } = v;
  // Some tools omit metadata; total_size is informative only, so a missing one is tolerated.
  const meta = metadata === undefined ? { total_size: NaN } : metadata;
  if (!isObject(meta)) throw new FormatError(fileName, '"metadata" must be an object');
  const total = meta.total_size ?? NaN;
  if (typeof total !== 'number' || !(Number.isNaN(total) || (Number.isSafeInteger(total) && total >= 0))) {
    throw new FormatError(fileName, `"metadata.total_size" must be a non-negative integer, got ${JSON.stringify(total)}`);
  }
  if (!isObject(map)) throw new FormatError(fileName, '"weight_map" must be an object mapping tensor names to shard file names');
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file === '' || file.startsWith('/') || file.split(/[\\/]/).includes('..')) {
      throw new FormatError(fileName, `"weight_map"."${name}" must be a shard file name inside the checkpoint folder, got ${JSON.stringify(file)}`);
    }
  }
  return { metadata: { ...meta, total_size: total as number }, weight_map: { ...(map as Record<string, string>) } };
}

/**
 * Writes an index as transformers does (`json.dumps(index, indent=2, sort_keys=True) + "\n"`).
 *
 * @example
 * ```ts
 * await atomicWriteFile(join(dir, SAFETENSORS_INDEX_FILE), serializeSafetensorsIndex(index));
 * ```
 */
export function serializeSafetensorsIndex(index: SafetensorsIndex): string {
  return `${JSON.stringify(sortKeys(index), null, 2)}\n`;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObject(v)) return v;
  // Integer-like keys would still be hoisted by JS; tensor and metadata names never are.
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
