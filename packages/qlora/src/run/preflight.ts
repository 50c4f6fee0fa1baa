/**
 * Checks made before anything is loaded, so a run is not lost at its end: the output folder can
 * be written (it is a folder, or can be made one, and a file can be created in it) and its disk
 * has room for what will be written; an input folder holds what it must.
 */
import { constants } from 'node:fs';
import { access, lstat, mkdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FormatError, QError } from '@q/core';
import { totalmem } from 'node:os';
import { checkMemoryPlan, formatBytes, type ModelConfig } from '@q/model';

/** An output folder that cannot be written, or a disk without room. */
export class OutputDirError extends QError {
  constructor(message: string) {
    super('E_OUTPUT', message);
  }
}

async function kind(p: string): Promise<'dir' | 'file' | null> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: a part of the path above is a file; the walk up finds it.
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

/**
 * @param bytes what the run will write there, at most (0: do not check the free space)
 * @example
 * ```ts
 * await checkOutputDir('out', 'output_dir', 200e6);
 * ```
 */
export async function checkOutputDir(dir: string, label: string, bytes: number): Promise<void> {
  const target = resolve(dir);
  const cwd = process.cwd();
  if (cwd === target || cwd.startsWith(`${target}/`) || dirname(target) === target) {
    // Outputs are renamed in whole (see writeFolderAtomic), so the folder cannot be the one we run in.
    throw new OutputDirError(`${label} ${target} is the working folder or above it; choose a folder of its own (e.g. ${join(target, 'out')})`);
  }
  // The nearest part of the path that exists must be a folder.
  let existing = target;
  while ((await kind(existing)) === null && dirname(existing) !== existing) existing = dirname(existing);
  if ((await kind(existing)) === 'file') {
    throw new OutputDirError(
      existing === target ? `${label} ${target} is a file, not a folder; choose a folder` : `${label} ${target} cannot be created: ${existing} is a file, not a folder`,
    );
  }
  // A probe file: the permission bits do not tell the whole story (read-only mounts, root).
  const probe = join(existing, `.qlora-write-test-${process.pid}`);
  try {
    await access(existing, constants.W_OK);
    await writeFile(probe, 'x');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new OutputDirError(`${label} ${target} cannot be written: ${existing} is not writable (${code})`);
  } finally {
    await rm(probe, { force: true });
  }
  if (bytes > 0) {
    const fsInfo = await statfs(existing);
    const free = fsInfo.bavail * fsInfo.bsize;
    if (free < bytes) {
      throw new OutputDirError(`${label} ${target}: the disk has ${formatBytes(free)} free, but this run will write up to ${formatBytes(bytes)}; free some space or choose another folder`);
    }
  }
}

/** The folder exists and holds each of `files` (the first alternative found of each entry). */
export async function checkInputDir(dir: string, label: string, files: (string | string[])[]): Promise<void> {
  const target = resolve(dir);
  const k = await kind(target);
  if (k === null) throw new FormatError(target, `${label} not found`);
  if (k === 'file') throw new FormatError(target, `${label} must be a folder, but this is a file`);
  for (const f of files) {
    const alts = [f].flat();
    let found = false;
    for (const a of alts) if (await lstat(join(target, a)).then(() => true, () => false)) found = true;
    if (!found) throw new FormatError(target, `${label} has no ${alts.join(' or ')}${alts.length > 1 ? '' : ''}`);
  }
}

/** Creates `dir` (after checkOutputDir) so a later lock can be taken in it. */
export async function makeOutputDir(dir: string): Promise<void> {
  await mkdir(resolve(dir), { recursive: true });
}

/** The memory plan of a model, before it is loaded: refuses an absurd config with the numbers. */
export function checkModelFits(cfg: ModelConfig, source: string, quantized: boolean): void {
  checkMemoryPlan(cfg, { quantized, hostBytes: totalmem(), source });
}
