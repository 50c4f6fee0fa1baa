/**
 * The subset of node:fs/promises that @q's file code uses, over a directory of the Origin Private
 * File System (navigator.storage.getDirectory()). It lets SFTTrainer, saveAdapter and the
 * checkpoint code run unchanged in a page: output_dir is an OPFS folder, so a reload finds the
 * checkpoints and resumes.
 *
 * NOTE: memfs's FSA adapter was tried first (the style prefers a well-kept library), but its
 * rename of a directory fails and @q's checkpoints are written as a folder renamed into place.
 * OPFS has no atomic directory rename; rename here copies then deletes, so a kill in the middle
 * can leave both folders — the trainer's resume picks only checkpoints that are complete.
 */
import { fsError, parts, stats } from './fs-errors';

type Dir = FileSystemDirectoryHandle;
type Entry = FileSystemDirectoryHandle | FileSystemFileHandle;
type Data = string | Uint8Array | ArrayBuffer;

const text = new TextEncoder();
const bytesOf = (d: Data): Uint8Array => (typeof d === 'string' ? text.encode(d) : d instanceof Uint8Array ? d : new Uint8Array(d));
const entriesOf = (d: Dir) => (d as unknown as { entries(): AsyncIterable<[string, Entry]> }).entries();
const isNotFound = (e: unknown) => (e as DOMException)?.name === 'NotFoundError';
const isTypeMismatch = (e: unknown) => (e as DOMException)?.name === 'TypeMismatchError';
const dirent = (name: string, kind: 'file' | 'directory') => ({ name, isFile: () => kind === 'file', isDirectory: () => kind === 'directory', isSymbolicLink: () => false });

export class OpfsFs {
  constructor(private root: Dir) {}

  /** The directory at `path`, creating missing parents when `create`. */
  private async dir(path: string, syscall: string, create = false): Promise<Dir> {
    let d = this.root;
    for (const p of parts(path)) {
      try {
        d = await d.getDirectoryHandle(p, { create });
      } catch (e) {
        if (isTypeMismatch(e)) throw fsError('ENOTDIR', syscall, path);
        if (isNotFound(e)) throw fsError('ENOENT', syscall, path);
        throw e;
      }
    }
    return d;
  }

  private async parent(path: string, syscall: string): Promise<{ dir: Dir; name: string }> {
    const p = parts(path);
    if (p.length === 0) throw fsError('EISDIR', syscall, path);
    return { dir: await this.dir(`/${p.slice(0, -1).join('/')}`, syscall), name: p[p.length - 1]! };
  }

  private async entry(path: string, syscall: string): Promise<Entry> {
    if (parts(path).length === 0) return this.root;
    const { dir, name } = await this.parent(path, syscall);
    try {
      return await dir.getFileHandle(name);
    } catch (e) {
      if (!isTypeMismatch(e) && !isNotFound(e)) throw e;
      try {
        return await dir.getDirectoryHandle(name);
      } catch {
        throw fsError('ENOENT', syscall, path);
      }
    }
  }

  private async fileHandle(path: string, syscall: string, create = false): Promise<FileSystemFileHandle> {
    const { dir, name } = await this.parent(path, syscall);
    try {
      return await dir.getFileHandle(name, { create });
    } catch (e) {
      if (isTypeMismatch(e)) throw fsError('EISDIR', syscall, path);
      if (isNotFound(e)) throw fsError('ENOENT', syscall, path);
      throw e;
    }
  }

  async mkdir(path: string, o: { recursive?: boolean } = {}): Promise<void> {
    if (!o.recursive) {
      const { dir, name } = await this.parent(path, 'mkdir');
      if (await this.exists(path)) throw fsError('EEXIST', 'mkdir', path);
      await dir.getDirectoryHandle(name, { create: true });
      return;
    }
    await this.dir(path, 'mkdir', true);
  }

  async exists(path: string): Promise<boolean> {
    return this.entry(path, 'access').then(() => true, () => false);
  }

  async access(path: string): Promise<void> {
    await this.entry(path, 'access');
  }

  async stat(path: string) {
    const e = await this.entry(path, 'stat');
    if (e.kind === 'directory') return stats('dir', 0);
    const f = await (e as FileSystemFileHandle).getFile();
    return stats('file', f.size, f.lastModified);
  }

  /** Names, or Dirent-like entries with `{ withFileTypes: true }`. */
  async readdir(path: string): Promise<string[]>;
  async readdir(path: string, o: { withFileTypes: true }): Promise<ReturnType<typeof dirent>[]>;
  async readdir(path: string, o?: { withFileTypes?: boolean }): Promise<string[] | ReturnType<typeof dirent>[]> {
    const d = await this.dir(path, 'scandir');
    const found: [string, Entry][] = [];
    for await (const e of entriesOf(d)) found.push(e);
    found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return o?.withFileTypes ? found.map(([name, e]) => dirent(name, e.kind)) : found.map(([name]) => name);
  }

  /** Node's link(existing, new) fails when `new` exists; @q's lock relies on that (single writer per origin here). */
  async link(from: string, to: string): Promise<void> {
    if (await this.exists(to)) throw fsError('EEXIST', 'link', to);
    await this.copyFile(from, to);
  }

  async readFile(path: string, enc?: string | { encoding?: string }): Promise<Uint8Array | string> {
    const f = await (await this.fileHandle(path, 'open')).getFile();
    const encoding = typeof enc === 'string' ? enc : enc?.encoding;
    return encoding ? f.text() : new Uint8Array(await f.arrayBuffer());
  }

  async writeFile(path: string, data: Data): Promise<void> {
    const w = await (await this.fileHandle(path, 'open', true)).createWritable();
    await w.write(bytesOf(data) as unknown as BufferSource);
    await w.close();
  }

  async appendFile(path: string, data: Data): Promise<void> {
    const h = await this.fileHandle(path, 'open', true);
    const size = (await h.getFile()).size;
    const w = await h.createWritable({ keepExistingData: true });
    await w.seek(size);
    await w.write(bytesOf(data) as unknown as BufferSource);
    await w.close();
  }

  async copyFile(from: string, to: string): Promise<void> {
    const f = await (await this.fileHandle(from, 'copyfile')).getFile();
    await this.writeFile(to, new Uint8Array(await f.arrayBuffer()));
  }

  async unlink(path: string): Promise<void> {
    const e = await this.entry(path, 'unlink');
    if (e.kind === 'directory') throw fsError('EISDIR', 'unlink', path);
    const { dir, name } = await this.parent(path, 'unlink');
    await dir.removeEntry(name);
  }

  async rm(path: string, o: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    if (!(await this.exists(path))) {
      if (o.force) return;
      throw fsError('ENOENT', 'rm', path);
    }
    const { dir, name } = await this.parent(path, 'rm');
    await dir.removeEntry(name, { recursive: !!o.recursive });
  }

  async rmdir(path: string, o: { recursive?: boolean } = {}): Promise<void> {
    await this.rm(path, { recursive: o.recursive });
  }

  /** Node's rename: a file replaces a file; a directory replaces an empty directory. */
  async rename(from: string, to: string): Promise<void> {
    const src = await this.entry(from, 'rename');
    const dst = await this.entry(to, 'rename').catch(() => null);
    if (dst && src.kind !== dst.kind) throw fsError(dst.kind === 'directory' ? 'EISDIR' : 'ENOTDIR', 'rename', to);
    if (dst?.kind === 'directory' && (await this.readdir(to)).length > 0) throw fsError('ENOTEMPTY', 'rename', to);
    if (dst) await this.rm(to, { recursive: true });
    await this.copyTree(from, to, src);
    await this.rm(from, { recursive: true });
  }

  private async copyTree(from: string, to: string, src: Entry): Promise<void> {
    if (src.kind === 'file') return this.copyFile(from, to);
    await this.mkdir(to, { recursive: true });
    for await (const [name, e] of entriesOf(src as Dir)) await this.copyTree(`${from}/${name}`, `${to}/${name}`, e);
  }

  /** open(path, 'r') for reading at positions; 'w'/'wx'/'a' for writes (whole file on close). */
  async open(path: string, flags = 'r') {
    if (flags === 'r') {
      const f = await (await this.fileHandle(path, 'open')).getFile();
      return {
        stat: async () => stats('file', f.size, f.lastModified),
        async read(buffer: Uint8Array, offset: number, length: number, position: number) {
          const b = new Uint8Array(await f.slice(position, position + length).arrayBuffer());
          buffer.set(b, offset);
          return { bytesRead: b.length, buffer };
        },
        sync: async () => undefined,
        close: async () => undefined,
      };
    }
    if (flags.includes('x') && (await this.exists(path))) throw fsError('EEXIST', 'open', path);
    const h = await this.fileHandle(path, 'open', true);
    const w = await h.createWritable({ keepExistingData: flags.startsWith('a') });
    if (flags.startsWith('a')) await w.seek((await h.getFile()).size);
    return {
      async write(data: Data) {
        const b = bytesOf(data);
        await w.write(b as unknown as BufferSource);
        return { bytesWritten: b.length };
      },
      writeFile: async (data: Data) => void (await w.write(bytesOf(data) as unknown as BufferSource)),
      sync: async () => undefined,
      datasync: async () => undefined,
      close: () => w.close(),
    };
  }
}
