/**
 * A read-only file system over the File objects a user picked (a model folder, a dataset file).
 * Reads are `File.slice(start, end)`, so a multi-gigabyte safetensors file is read tensor by
 * tensor and never held whole — the same random access node:fs gives @q's checkpoint reader.
 */
import { fsError, parts, stats } from './fs-errors';

export class PickedFilesFs {
  private files = new Map<string, File>();

  /** Puts `files` under `dir` by their names (a folder picker's webkitRelativePath loses its top folder). */
  mount(dir: string, files: Iterable<File>): string[] {
    const names: string[] = [];
    for (const f of files) {
      const rel = (f.webkitRelativePath || f.name).split('/').slice(f.webkitRelativePath ? 1 : 0).join('/');
      this.files.set(`/${[...parts(dir), ...parts(rel)].join('/')}`, f);
      names.push(rel);
    }
    return names;
  }

  private file(path: string, syscall: string): File {
    const f = this.files.get(`/${parts(path).join('/')}`);
    if (!f) throw fsError(this.isDir(path) ? 'EISDIR' : 'ENOENT', syscall, path);
    return f;
  }

  private isDir(path: string): boolean {
    const prefix = `/${parts(path).join('/')}/`.replace(/^\/\/$/, '/');
    for (const k of this.files.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }

  has(path: string): boolean {
    return this.files.has(`/${parts(path).join('/')}`) || this.isDir(path);
  }

  async stat(path: string) {
    if (this.isDir(path)) return stats('dir', 0);
    const f = this.file(path, 'stat');
    return stats('file', f.size, f.lastModified);
  }

  async access(path: string): Promise<void> {
    if (!this.has(path)) throw fsError('ENOENT', 'access', path);
  }

  async readdir(path: string): Promise<string[]> {
    if (!this.isDir(path)) throw fsError(this.files.has(`/${parts(path).join('/')}`) ? 'ENOTDIR' : 'ENOENT', 'scandir', path);
    const depth = parts(path).length;
    const names = new Set<string>();
    for (const k of this.files.keys()) {
      const p = parts(k);
      if (p.length > depth && p.slice(0, depth).join('/') === parts(path).join('/')) names.add(p[depth]!);
    }
    return [...names].sort();
  }

  async readFile(path: string, enc?: string | { encoding?: string }): Promise<Uint8Array | string> {
    const f = this.file(path, 'open');
    const encoding = typeof enc === 'string' ? enc : enc?.encoding;
    return encoding ? f.text() : new Uint8Array(await f.arrayBuffer());
  }

  async open(path: string, flags = 'r') {
    if (flags !== 'r') throw fsError('EROFS', 'open', path);
    const f = this.file(path, 'open');
    return {
      stat: async () => stats('file', f.size, f.lastModified),
      async read(buffer: Uint8Array, offset: number, length: number, position: number) {
        const bytes = new Uint8Array(await f.slice(position, position + length).arrayBuffer());
        buffer.set(bytes, offset);
        return { bytesRead: bytes.length, buffer };
      },
      close: async () => undefined,
    };
  }
}
