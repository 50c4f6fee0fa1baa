/**
 * The one writer of output folders (adapters, checkpoints, merged and quantized models): a folder
 * appears complete or not at all, and holds nothing stale from an earlier save.
 *
 *   1. fill `.<name>.q-tmp-<pid>-<rand>` beside the target and fsync what was written;
 *   2. rename it to `.<name>.q-ready-<pid>-<rand>`: the commit point;
 *   3. move the target's entries that the new folder keeps (`keep`, e.g. checkpoints in an
 *      output_dir) into it, rename the target to `.<name>.q-old-…`, rename the new one in;
 *   4. delete the old one.
 * A kill anywhere leaves the target either as it was or as it will be; {@link recoverFolder}
 * finishes a commit that passed step 2 (ready folders are complete) and removes the rest.
 * Every name is a rename within one parent folder, so each step is atomic on POSIX.
 */
import { QError } from '@q/core';
import { nodeModules, processId } from './node-modules';

export interface AtomicFolderOptions {
  /**
   * Entries of an existing target that are not this writer's and move into the new folder:
   * e.g. checkpoint-N folders and logs when an adapter is saved at the top of output_dir. Default
   * none: the folder is replaced whole. Entries the new folder also has are always replaced.
   */
  keep?: (name: string) => boolean;
}

const TAG = /^\.(.+)\.q-(tmp|ready|old)-(\d+)-[a-z0-9]+$/;
/** Written into a ready folder: what its commit keeps of the folder it replaces. */
const COMMIT_FILE = '.q-commit.json';

function rand(): string {
  return Math.random().toString(36).slice(2, 10);
}

/**
 * A temporary file of a writer that is gone: atomicWriteFile's `.<name>.<pid>.<rand>.tmp`, the
 * lock's `.qlora.lock.<pid>.<rand>`, the CLI's write probe, the earlier trainer's
 * `.tmp-checkpoint-N-<pid>`.
 */
function deadTemporary(name: string): boolean {
  const m =
    /^\.tmp-checkpoint-\d+-(\d+)$/.exec(name) ?? /^\..+\.(\d+)\.[a-z0-9]+\.tmp$/.exec(name) ?? /^\.qlora\.lock\.(\d+)\.[a-z0-9]+$/.exec(name) ?? /^\.qlora-write-test-(\d+)$/.exec(name);
  return !!m && Number(m[1]) !== processId() && !pidAlive(Number(m[1]));
}

/** True when `pid` is a live process on this host (EPERM: alive, owned by someone else). */
export function pidAlive(pid: number): boolean {
  // A browser has no processes to ask (and writes under pid 0, see processId).
  const proc = (globalThis as { process?: { kill(pid: number, signal: number): void } }).process;
  if (!proc || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    proc.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function fsyncTree(dir: string): Promise<void> {
  const { fs, path } = await nodeModules();
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) {
      const h = await fs.open(p, 'r');
      await h.sync().finally(() => h.close());
    }
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const { fs } = await nodeModules();
  // Not every platform lets a folder be fsynced; the renames are still atomic there.
  await fs.open(dir, 'r').then((d) => d.sync().finally(() => d.close())).catch(() => {});
}

async function exists(p: string): Promise<boolean> {
  const { fs } = await nodeModules();
  return fs.lstat(p).then(() => true, () => false);
}

/** Steps 3-4 for a ready folder; idempotent, so recovery runs the same code after a kill. */
async function finishCommit(target: string, ready: string): Promise<void> {
  const { fs, path } = await nodeModules();
  const commit = JSON.parse(await fs.readFile(path.join(ready, COMMIT_FILE), 'utf8').catch(() => '{"keep":[]}')) as { keep: string[] };
  const keepRe = commit.keep.map((s) => new RegExp(s));
  if (await exists(target)) {
    const st = await fs.stat(target);
    if (!st.isDirectory()) throw new QError('E_IO', `${target}: exists and is not a folder; cannot write a folder there`);
    for (const name of await fs.readdir(target)) {
      if (!keepRe.some((r) => r.test(name))) continue;
      if (await exists(path.join(ready, name))) continue;
      await fs.rename(path.join(target, name), path.join(ready, name));
    }
    const old = path.join(path.dirname(target), `.${path.basename(target)}.q-old-${processId()}-${rand()}`);
    await fs.rename(target, old);
    await fs.rename(ready, target);
    await syncDir(path.dirname(target));
    await fs.rm(old, { recursive: true, force: true });
  } else {
    await fs.rename(ready, target);
    await syncDir(path.dirname(target));
  }
  await fs.rm(path.join(target, COMMIT_FILE), { force: true });
}

/**
 * Writes the folder `dir` atomically: `fill` writes every file into an empty temporary folder
 * (its argument), which then replaces `dir` whole.
 *
 * @example
 * ```ts
 * await writeFolderAtomic('out/merged', async (tmp) => {
 *   await writeModelFiles(tmp, model);
 *   await copyTokenizerFiles(baseDir, tmp);
 * });
 * ```
 */
export async function writeFolderAtomic<T>(dir: string, fill: (tmp: string) => Promise<T>, o: AtomicFolderOptions = {}): Promise<T> {
  const { fs, path } = await nodeModules();
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  // The folder is renamed aside during the swap: the working folder (or one above it) must not be.
  const cwd = (globalThis as { process?: { cwd(): string } }).process?.cwd() ?? '/';
  if (parent === target || cwd === target || cwd.startsWith(`${target}${path.sep}`)) {
    throw new QError('E_IO', `${target}: is the working folder or above it, and an output folder is replaced whole; choose a folder of its own`);
  }
  await checkParent(parent);
  if (await exists(target)) {
    const st = await fs.stat(target);
    if (!st.isDirectory()) throw new QError('E_IO', `${target}: exists and is not a folder; cannot write a folder there`);
  }
  // A writer killed earlier on this same target: finish its commit or clear its leftovers first.
  await recoverFolders(parent, base);
  const id = `${processId()}-${rand()}`;
  const tmp = path.join(parent, `.${base}.q-tmp-${id}`);
  const ready = path.join(parent, `.${base}.q-ready-${id}`);
  await fs.mkdir(tmp);
  let result: T;
  try {
    result = await fill(tmp);
    const keep: string[] = [];
    if (o.keep && (await exists(target))) {
      // A dead writer's temporaries are not kept: nothing stale moves into the new folder.
      for (const name of await fs.readdir(target)) if (o.keep(name) && !deadTemporary(name) && !(await exists(path.join(tmp, name)))) keep.push(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    }
    await fs.writeFile(path.join(tmp, COMMIT_FILE), JSON.stringify({ keep }));
    await fsyncTree(tmp);
    await fs.rename(tmp, ready);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
  await finishCommit(target, ready);
  return result;
}

async function checkParent(parent: string): Promise<void> {
  const { fs } = await nodeModules();
  await fs.mkdir(parent, { recursive: true });
}

/**
 * {@link recoverFolders} for one folder: call before using `dir` (e.g. an output_dir), so a save
 * of it that a kill interrupted is finished, or cleared, first.
 */
export async function recoverFolder(dir: string): Promise<string[]> {
  const { path } = await nodeModules();
  const target = path.resolve(dir);
  return recoverFolders(path.dirname(target), path.basename(target));
}

/**
 * Renames `dir` aside, then deletes it: a kill mid-delete never leaves a half-deleted folder that
 * looks complete (e.g. the oldest checkpoint under save_total_limit).
 */
export async function removeFolderAtomic(dir: string): Promise<void> {
  const { fs, path } = await nodeModules();
  const target = path.resolve(dir);
  if (!(await exists(target))) return;
  const old = path.join(path.dirname(target), `.${path.basename(target)}.q-old-${processId()}-${rand()}`);
  await fs.rename(target, old);
  await syncDir(path.dirname(target));
  await fs.rm(old, { recursive: true, force: true });
}

/**
 * Cleans up after writers that were killed, in `parent`: a ready folder (complete) finishes its
 * commit, temporary and old folders are removed. Folders of a live process are left alone.
 * Returns what it did, one line each.
 *
 * @example
 * ```ts
 * await recoverFolders('out'); // before resuming from out/checkpoint-*
 * ```
 */
export async function recoverFolders(parent: string, only?: string): Promise<string[]> {
  const { fs, path } = await nodeModules();
  const names = (await fs.readdir(parent).catch(() => [] as string[])).filter((n) => only === undefined || n.startsWith(`.${only}.`));
  const done: string[] = [];
  // Another live process's folders are its own business (the output_dir lock keeps runs apart).
  const tagged = names.map((n) => [n, TAG.exec(n)] as const).filter(([, m]) => m && Number(m[3]) !== processId() && !pidAlive(Number(m[3])));
  // Ready folders first: they are complete, and their commit may need the old folder's entries.
  for (const [name, m] of tagged) {
    if (m![2] !== 'ready') continue;
    await finishCommit(path.join(parent, m![1]!), path.join(parent, name));
    done.push(`finished the interrupted save of ${path.join(parent, m![1]!)}`);
  }
  for (const [name, m] of tagged) {
    if (m![2] === 'ready') continue;
    await fs.rm(path.join(parent, name), { recursive: true, force: true });
    done.push(`removed the leftover ${path.join(parent, name)}`);
  }
  for (const n of names) {
    if (deadTemporary(n)) {
      await fs.rm(path.join(parent, n), { recursive: true, force: true });
      done.push(`removed the leftover ${path.join(parent, n)}`);
    }
  }
  return done;
}
