import { FormatError, type ByteSource } from '@q/core';
import { nodeModules } from './node-modules';

/** A ByteSource over an open file; call `close` when done. */
export interface FileSource extends ByteSource {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Opens a file for random-access reads: each `read` is one positioned read into a fresh buffer,
 * so a checkpoint is read tensor by tensor and never held whole.
 *
 * @example
 * ```ts
 * const src = await fileSource('model.safetensors');
 * try { const st = await readSafetensors(src, src.path); } finally { await src.close(); }
 * ```
 */
export async function fileSource(path: string): Promise<FileSource> {
  const { fs } = await nodeModules();
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (e) {
    throw new FormatError(path, describeFsError(e, 'cannot open'));
  }
  const { size } = await handle.stat();
  return {
    path,
    size,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new FormatError(path, `read of [${offset}, ${offset + length}) is outside the ${size}-byte file`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      // A positioned read may return fewer bytes than asked; loop until the range is full.
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new FormatError(path, `file ended at ${offset + done} while reading [${offset}, ${offset + length}) (truncated while open?)`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/** "ENOENT: no such file" style detail from a Node fs error. */
export function describeFsError(e: unknown, what: string): string {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return `${what}: file not found`;
  if (code === 'EACCES' || code === 'EPERM') return `${what}: permission denied`;
  if (code === 'EISDIR') return `${what}: is a directory`;
  return `${what}: ${(e as Error).message}`;
}
