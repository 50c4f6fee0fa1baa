/**
 * One run per output folder: `<dir>/.qlora.lock` holds the owner's pid, host and start time.
 * A second run refuses with the owner named; a lock whose pid is dead on this host is stale and
 * taken over. The lock file is created whole (written aside, then hard-linked into place, which
 * fails if the name exists), so no reader ever sees a half-written lock.
 */
import { QError } from '@q/core';
import { nodeModules, processId } from './node-modules';
import { pidAlive } from './atomic-folder';

export const LOCK_FILE = '.qlora.lock';

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  command: string;
}

/** Another run holds the folder. */
export class LockedError extends QError {
  constructor(
    readonly dir: string,
    readonly owner: LockInfo | null,
  ) {
    super(
      'E_LOCKED',
      owner
        ? `${dir} is in use by another run (pid ${owner.pid} on ${owner.host}, "${owner.command}", since ${owner.started}); wait for it, or choose another output_dir. If that run is gone, delete ${LOCK_FILE} in the folder.`
        : `${dir} is locked (${LOCK_FILE} exists but cannot be read); if no run uses the folder, delete that file`,
    );
  }
}

export interface DirLock {
  readonly file: string;
  /** Notes about a stale lock taken over. */
  readonly notes: string[];
  release(): Promise<void>;
}

/**
 * @example
 * ```ts
 * const lock = await lockDir('out', 'qlora train');
 * try { ... } finally { await lock.release(); }
 * ```
 */
export async function lockDir(dir: string, command: string): Promise<DirLock> {
  const { fs, path } = await nodeModules();
  // A browser has no node:os; its locks name the host 'browser'.
  const host = await (import(/* @vite-ignore */ 'node:' + 'os') as Promise<typeof import('node:os')>).then((os) => os.hostname(), () => 'browser');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const me: LockInfo = { pid: processId(), host, started: new Date().toISOString(), command };
  const notes: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = path.join(dir, `${LOCK_FILE}.${processId()}.${Math.random().toString(36).slice(2)}`);
    await fs.writeFile(tmp, `${JSON.stringify(me)}\n`);
    try {
      await fs.link(tmp, file);
      return {
        file,
        notes,
        async release() {
          const now = await readLock(file);
          if (now && now.pid === me.pid && now.host === me.host) await fs.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await fs.rm(tmp, { force: true });
    }
    const owner = await readLock(file);
    // This process holds it already (the CLI locks the whole run, the trainer its training).
    if (owner && owner.host === me.host && owner.pid === me.pid) return { file, notes, release: async () => {} };
    if (owner && owner.host === me.host && !pidAlive(owner.pid)) {
      // Stale: its process is dead. Remove it only if it is still that same lock.
      const again = await readLock(file);
      if (again && again.pid === owner.pid && again.started === owner.started) await fs.rm(file, { force: true });
      notes.push(`removed a stale lock of pid ${owner.pid} (started ${owner.started}), which is no longer running`);
      continue;
    }
    throw new LockedError(dir, owner);
  }
  throw new LockedError(dir, await readLock(file));
}

async function readLock(file: string): Promise<LockInfo | null> {
  const { fs } = await nodeModules();
  try {
    const v = JSON.parse(await fs.readFile(file, 'utf8')) as LockInfo;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? v : null;
  } catch {
    return null;
  }
}
