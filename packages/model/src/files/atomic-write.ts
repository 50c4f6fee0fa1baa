import { QError, type ByteSink } from '@q/core';
import { nodeModules, processId } from './node-modules';

/**
 * Writes a file so that a crash leaves either the old file or the new one, never half of it:
 * write a temporary file beside it, flush it to disk, then rename over the target (atomic on
 * POSIX and on NTFS). Parent folders are created. Strings are written as UTF-8.
 *
 * @example
 * ```ts
 * await atomicWriteFile('out/adapter_model.safetensors', serializeSafetensors(tensors, { format: 'pt' }));
 * ```
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  await atomicWriteWith(path, (sink) => sink.write(bytes));
}

/**
 * Like {@link atomicWriteFile}, but `write` streams chunks into a sink, for files too large to
 * build in memory (e.g. with `writeSafetensors`). If `write` throws, the target is untouched.
 *
 * @example
 * ```ts
 * await atomicWriteWith('model.safetensors', (sink) => writeSafetensors(tensors, sink, { format: 'pt' }));
 * ```
 */
export async function atomicWriteWith(path: string, write: (sink: ByteSink) => Promise<unknown> | unknown): Promise<void> {
  const { fs, path: p } = await nodeModules();
  const dir = p.dirname(path);
  await fs.mkdir(dir, { recursive: true });
  const tmp = p.join(dir, `.${p.basename(path)}.${processId()}.${Math.random().toString(36).slice(2)}.tmp`);
  const handle = await fs.open(tmp, 'w');
  try {
    await write({
      async write(chunk) {
        let done = 0;
        while (done < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
          done += bytesWritten;
        }
      },
    });
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, path);
  } catch (e) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    if (e instanceof QError) throw e;
    throw new QError('E_IO', `${path}: write failed, previous contents kept (${(e as Error).message})`);
  }
  // Persist the rename itself; not every platform lets a folder be fsynced, and that is fine.
  await fs.open(dir, 'r').then((d) => d.sync().finally(() => d.close())).catch(() => {});
}
