/**
 * Node built-ins, loaded on first use. Imported dynamically so that a browser bundle of @q/model
 * can import this package; only calling a file function there fails, with a clear error.
 */
import { QError } from '@q/core';

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

let cached: Promise<{ fs: Fs; path: Path }> | undefined;

/** `node:fs/promises` and `node:path`, or a QError saying that file access needs Node. */
export function nodeModules(): Promise<{ fs: Fs; path: Path }> {
  cached ??= Promise.all([load<Fs>('node:fs/promises'), load<Path>('node:path')])
    .then(([fs, path]) => ({ fs, path }))
    .catch((e: unknown) => {
      cached = undefined;
      throw new QError('E_IO', `file access needs Node.js (node:fs unavailable: ${(e as Error).message}); in a browser use readSafetensors/AutoTokenizer.fromJSON with fetched bytes`);
    });
  return cached;
}

/**
 * import() through a variable: bundlers targeting browsers (esbuild, webpack, Vite) then leave
 * the specifier alone instead of failing to resolve a Node built-in at build time.
 */
function load<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<T>;
}
