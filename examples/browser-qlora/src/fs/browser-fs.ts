/**
 * The file system @q sees inside the page's worker: what the user picked, read-only under
 * /picked, and everything else in the Origin Private File System (outputs, checkpoints).
 */
import { useFileSystem } from '@q/model';
import path from 'path-browserify';
import { OpfsFs } from './opfs-fs';
import { PickedFilesFs } from './picked-files-fs';
import { parts } from './fs-errors';

export const PICKED = '/picked';

type Method = 'stat' | 'access' | 'readdir' | 'readFile' | 'open';

/** Routes each call by path: under PICKED to the picked files, elsewhere to OPFS. */
export function browserFs(picked: PickedFilesFs, opfs: OpfsFs) {
  const isPicked = (p: string) => parts(p)[0] === parts(PICKED)[0];
  const read = (m: Method) => (p: string, ...a: unknown[]) => ((isPicked(p) ? picked : opfs)[m] as (...x: unknown[]) => unknown)(p, ...a);
  const write = <K extends keyof OpfsFs>(m: K) => (p: string, ...a: unknown[]) => {
    if (isPicked(p)) return Promise.reject(Object.assign(new Error(`EROFS: read-only file system, '${p}'`), { code: 'EROFS', path: p }));
    return (opfs[m] as (...x: unknown[]) => unknown).call(opfs, p, ...a);
  };
  return {
    stat: read('stat'),
    lstat: read('stat'),
    access: read('access'),
    readdir: read('readdir'),
    readFile: read('readFile'),
    open: (p: string, flags = 'r') => (flags === 'r' ? read('open')(p, flags) : write('open')(p, flags)),
    mkdir: write('mkdir'),
    writeFile: write('writeFile'),
    appendFile: write('appendFile'),
    copyFile: async (from: string, to: string) => (isPicked(from) ? opfs.writeFile(to, (await picked.readFile(from)) as Uint8Array) : write('copyFile')(from, to)),
    rename: (from: string, to: string) => write('rename')(from, to),
    rm: write('rm'),
    rmdir: write('rmdir'),
    unlink: write('unlink'),
    link: (from: string, to: string) => write('link')(from, to),
  };
}

/** Makes every @q file function in this worker use the picked files and OPFS. */
export async function installBrowserFs(picked: PickedFilesFs): Promise<OpfsFs> {
  const opfs = new OpfsFs(await navigator.storage.getDirectory());
  useFileSystem({ fs: browserFs(picked, opfs), path });
  return opfs;
}
