/**
 * Errors shaped like Node's (an `Error` with `code`, `syscall` and `path`): @q's file code tells
 * a missing file from a directory by `code`, exactly as it does with node:fs.
 */
export type FsCode = 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'EROFS' | 'ENOTEMPTY' | 'EINVAL';

export function fsError(code: FsCode, syscall: string, path: string): Error {
  const text: Record<FsCode, string> = {
    ENOENT: 'no such file or directory',
    EEXIST: 'file already exists',
    ENOTDIR: 'not a directory',
    EISDIR: 'illegal operation on a directory',
    EROFS: 'read-only file system',
    ENOTEMPTY: 'directory not empty',
    EINVAL: 'invalid argument',
  };
  return Object.assign(new Error(`${code}: ${text[code]}, ${syscall} '${path}'`), { code, syscall, path });
}

/** A Stats object with the parts @q reads. */
export function stats(kind: 'file' | 'dir', size: number, mtimeMs = 0) {
  return {
    size,
    mtimeMs,
    mtime: new Date(mtimeMs),
    isFile: () => kind === 'file',
    isDirectory: () => kind === 'dir',
    isSymbolicLink: () => false,
  };
}

/** '/a//b/./c/' → ['a', 'b', 'c']; '..' is refused, paths here are always absolute. */
export function parts(path: string): string[] {
  const out: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw fsError('EINVAL', 'resolve', path);
    out.push(p);
  }
  return out;
}
