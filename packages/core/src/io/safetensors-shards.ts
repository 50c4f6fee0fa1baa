import { ValueError } from '../errors';
import type { ByteSink } from './byte-source';
import { SAFETENSORS_INDEX_FILE, type SafetensorsIndex } from './safetensors-index';
import { entryByteLength, writeSafetensors, type LazySafetensorsEntry } from './safetensors-writer';

/**
 * Shard file name as transformers writes it.
 *
 * @example
 * ```ts
 * shardFileName(0, 3) // 'model-00001-of-00003.safetensors'
 * ```
 */
export function shardFileName(index: number, count: number, base = 'model'): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${base}-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/**
 * Groups tensors into shards in the given order, as huggingface_hub's
 * `split_state_dict_into_shards_factory` does: a tensor larger than the cap gets a shard of its
 * own; otherwise a new shard starts when the next tensor would push the current one past the cap.
 * Sizes count tensor bytes only, like `metadata.total_size`.
 *
 * @example
 * ```ts
 * planShards([['a', 6], ['b', 6], ['c', 2]], 10) // [['a'], ['b', 'c']]
 * ```
 */
export function planShards(tensors: Array<[name: string, bytes: number]>, maxShardSize: number): string[][] {
  if (!(Number.isFinite(maxShardSize) && maxShardSize > 0)) {
    throw new ValueError(`maxShardSize must be a positive number of bytes, got ${maxShardSize}`);
  }
  const shards: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const [name, bytes] of tensors) {
    if (bytes > maxShardSize) {
      shards.push([name]);
      continue;
    }
    if (size + bytes > maxShardSize && current.length > 0) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/** Options of {@link writeShardedSafetensors}. */
export interface ShardedWriteOptions {
  /** Cap on tensor bytes per shard. Default: 5 GB (transformers' `max_shard_size="5GB"`). */
  maxShardSize?: number;
  /** Metadata of every shard. Default `{ format: 'pt' }`, which transformers requires to load the file. */
  metadata?: Record<string, string>;
  /** Opens a sink for one output file (name relative to the checkpoint folder); `close` is awaited after. */
  openSink(fileName: string): Promise<ByteSink & { close?(): Promise<void> }>;
}

/**
 * Writes a checkpoint as `model.safetensors` when it fits in one shard, else as
 * `model-0000k-of-0000n.safetensors` plus the index object (which the caller saves as
 * `model.safetensors.index.json`, see {@link serializeSafetensorsIndex}). Shards are written one
 * after another and tensors one at a time.
 *
 * @example
 * ```ts
 * const { files, index } = await writeShardedSafetensors(tensors, { maxShardSize: 2e9, openSink });
 * ```
 */
export async function writeShardedSafetensors(
  tensors: Record<string, LazySafetensorsEntry>,
  options: ShardedWriteOptions,
): Promise<{ files: string[]; index?: SafetensorsIndex; indexFile?: string }> {
  const sizes = Object.entries(tensors).map(([n, t]) => [n, entryByteLength(n, t)] as [string, number]);
  const shards = planShards(sizes, options.maxShardSize ?? 5_000_000_000);
  const metadata = options.metadata ?? { format: 'pt' };
  const files = shards.length === 1 ? ['model.safetensors'] : shards.map((_, i) => shardFileName(i, shards.length));
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const part = Object.fromEntries(shards[i].map((n) => [n, tensors[n]]));
    const sink = await options.openSink(files[i]);
    await writeSafetensors(part, sink, metadata);
    await sink.close?.();
    for (const n of shards[i]) weightMap[n] = files[i];
  }
  if (shards.length === 1) return { files };
  const total = sizes.reduce((a, [, b]) => a + b, 0);
  return { files, index: { metadata: { total_size: total }, weight_map: weightMap }, indexFile: SAFETENSORS_INDEX_FILE };
}
