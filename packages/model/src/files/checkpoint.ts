import {
  FormatError,
  parseSafetensorsIndex,
  readSafetensors,
  SAFETENSORS_INDEX_FILE,
  type SafetensorsReader,
  type SafetensorsTensorInfo,
  type TypedArray,
} from '@q/core';
import { fileSource, type FileSource } from './file-source';
import { pathExists, readJsonFile } from './read-json-file';
import { nodeModules } from './node-modules';

/** The weights of a checkpoint folder, single-file or sharded, looked up by tensor name. */
export interface Checkpoint {
  readonly dir: string;
  /** Safetensors files opened, relative to `dir`. */
  readonly files: string[];
  /** Every tensor name. */
  names(): string[];
  has(name: string): boolean;
  /** dtype, shape and the file that holds it. */
  info(name: string): SafetensorsTensorInfo & { file: string };
  readBytes(name: string): Promise<Uint8Array>;
  readTyped(name: string): Promise<TypedArray>;
  /** F32/F16/BF16/F64 tensor as float32. */
  readF32(name: string): Promise<Float32Array>;
  /** Closes every file handle. */
  close(): Promise<void>;
}

/**
 * Opens the weights of a Hugging Face model folder: `model.safetensors.index.json` with its
 * shards when present, else `model.safetensors`. Headers are read and cross-checked now; tensor
 * data is read on demand.
 *
 * @example
 * ```ts
 * const ckpt = await openCheckpoint('models/Qwen2.5-0.5B');
 * try { const emb = await ckpt.readF32('model.embed_tokens.weight'); } finally { await ckpt.close(); }
 * ```
 */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const { path, fs } = await nodeModules();
  const indexPath = path.join(dir, SAFETENSORS_INDEX_FILE);
  let weightMap: Record<string, string> | undefined;
  let files: string[];
  if (await pathExists(indexPath)) {
    weightMap = parseSafetensorsIndex(await readJsonFile(indexPath), indexPath).weight_map;
    files = [...new Set(Object.values(weightMap))].sort();
  } else if (await pathExists(path.join(dir, 'model.safetensors'))) {
    files = ['model.safetensors'];
  } else {
    const present = await fs.readdir(dir).catch(() => undefined);
    const found = present?.filter((f) => f.endsWith('.safetensors') || f.endsWith('.bin')) ?? [];
    throw new FormatError(
      dir,
      present === undefined
        ? 'checkpoint folder not found'
        : `no ${SAFETENSORS_INDEX_FILE} or model.safetensors here${found.length ? ` (found ${found.join(', ')}; .bin checkpoints are not supported, convert them to safetensors)` : ''}`,
    );
  }

  const sources: FileSource[] = [];
  const readers = new Map<string, SafetensorsReader>();
  try {
    await Promise.all(
      files.map(async (f) => {
        const src = await fileSource(path.join(dir, f));
        sources.push(src);
        readers.set(f, await readSafetensors(src, src.path));
      }),
    );
  } catch (e) {
    await Promise.all(sources.map((s) => s.close()));
    throw e;
  }

  const location = new Map<string, string>();
  if (weightMap) {
    for (const [name, f] of Object.entries(weightMap)) {
      if (!readers.get(f)!.has(name)) {
        await Promise.all(sources.map((s) => s.close()));
        throw new FormatError(indexPath, `weight_map puts "${name}" in ${f}, but that shard has no such tensor`);
      }
      location.set(name, f);
    }
  } else {
    for (const name of readers.get(files[0])!.names()) location.set(name, files[0]);
  }

  const reader = (name: string): SafetensorsReader => {
    const f = location.get(name);
    if (f === undefined) {
      throw new FormatError(dir, `no tensor "${name}" in ${files.join(', ')}${weightMap ? ` (looked up in ${SAFETENSORS_INDEX_FILE})` : ''}`);
    }
    return readers.get(f)!;
  };

  return {
    dir,
    files,
    names: () => [...location.keys()],
    has: (name) => location.has(name),
    info: (name) => ({ ...reader(name).info(name), file: location.get(name)! }),
    // async so that a missing name rejects rather than throws, like a failed read.
    readBytes: async (name) => reader(name).readBytes(name),
    readTyped: async (name) => reader(name).readTyped(name),
    readF32: async (name) => reader(name).readF32(name),
    close: async () => {
      await Promise.all(sources.map((s) => s.close()));
    },
  };
}
