/**
 * The `qlora` process body: parse, run, and turn every failure a user can fix into one line on
 * stderr and exit code 1. @q's typed errors print their message; the file-system errors Node
 * throws (no such folder, a file where a folder should be, no permission, disk full) print what
 * was being done to which path, never a stack trace. Anything else is a bug and keeps its stack.
 */
import { CommanderError } from 'commander';
import { QError } from '@q/core';
import type { CliIO } from '../run/io';
import { buildProgram } from './program';

const SYSTEM_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, where a file was expected',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EMFILE: 'too many open files',
  ENOTEMPTY: 'the folder is not empty',
  EXDEV: 'cannot move across file systems',
};

/** The one-line message for an error a user can act on, or null for a bug. */
export function userMessage(e: unknown): string | null {
  if (e instanceof QError) return e.message;
  const se = e as NodeJS.ErrnoException & { dest?: string };
  if (se && typeof se === 'object' && typeof se.code === 'string' && se.code in SYSTEM_ERRORS) {
    const what = se.syscall ? `${se.syscall} failed` : 'failed';
    const where = se.path ? `${se.path}${se.dest ? ` -> ${se.dest}` : ''}: ` : '';
    return `${where}${SYSTEM_ERRORS[se.code]} (${se.code}, ${what})`;
  }
  return null;
}

/**
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv, processIO());
 * ```
 */
export async function runCli(argv: string[], io: CliIO, o: { from?: 'node' | 'user' } = {}): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: o.from ?? 'node' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const msg = userMessage(e);
    if (msg !== null) {
      io.stderr.write(`\nqlora: ${msg}\n`);
      return 1;
    }
    throw e;
  }
}
