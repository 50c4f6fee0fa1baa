/**
 * Random access to the bytes of a file that may be far larger than what we want in memory.
 * Readers ask for one tensor's range at a time, so a 1 GB checkpoint is never held twice.
 *
 * @example
 * ```ts
 * const src = bytesSource(await (await fetch(url)).bytes());
 * const head = await src.read(0, 8);
 * ```
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Exactly `length` bytes starting at `offset`, in an array the caller owns (it may keep or
   * mutate it); rejects when the range runs past `size`.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Where a writer sends bytes, chunk by chunk, in order. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void> | void;
}

/**
 * A ByteSource over bytes already in memory; `read` copies, so callers own what they get.
 *
 * @example
 * ```ts
 * const st = await readSafetensors(bytesSource(fileBytes), 'adapter.safetensors');
 * ```
 */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > bytes.length) {
        throw new RangeError(`read [${offset}, ${offset + length}) is outside 0..${bytes.length}`);
      }
      return bytes.slice(offset, offset + length);
    },
  };
}

/**
 * A ByteSink that collects everything into one array; for small files and tests.
 *
 * @example
 * ```ts
 * const sink = memorySink();
 * await writeSafetensors(tensors, sink);
 * const bytes = sink.bytes();
 * ```
 */
export function memorySink(): ByteSink & { bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  return {
    write(chunk) {
      // Copy: callers may reuse their buffer after write returns.
      chunks.push(chunk.slice());
    },
    bytes() {
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const out = new Uint8Array(total);
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.length;
      }
      return out;
    },
  };
}
