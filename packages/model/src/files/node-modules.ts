/**
 * Node built-ins, loaded on first use. Imported dynamically so that a browser bundle of @q/model
 * can import this package; only calling a file function there fails, with a clear error.
 */
import { QError } from '@q/core';

type Fs = typeof import('node:fs/promises');
type Path = typeof import('node:path');

let cached: Promise<{ fs: Fs; path: Path }> | undefined;

/**
 * Every file access of @q (model folders, tokenizers, datasets, trainer outputs, adapters) goes
 * through these two modules. In a browser there is no node:fs, so a page or worker hands @q a
 * file system of its own with the same promise API — for example memfs's adapter over the Origin
 * Private File System plus the files a user picked — and every path-taking function works there.
 *
 * @example
 * ```ts
 * import { FsaNodeFs } from 'memfs/lib/fsa-to-node';
 * import path from 'path-browserify';
 * useFileSystem({ fs: new FsaNodeFs(await navigator.storage.getDirectory()).promises, path });
 * await AutoModelForCausalLM.fromPretrained('/models/tiny');
 * ```
 */
export function useFileSystem(modules: { fs: unknown; path: unknown } | null): void {
  cached = modules ? Promise.resolve(modules as { fs: Fs; path: Path }) : undefined;
}

/** `node:fs/promises` and `node:path` (or what useFileSystem gave), or a QError saying that file access needs Node. */
export function nodeModules(): Promise<{ fs: Fs; path: Path }> {
  cached ??= Promise.all([load<Fs>('node:fs/promises'), load<Path>('node:path')])
    .then(([fs, path]) => ({ fs, path }))
    .catch((e: unknown) => {
      cached = undefined;
      throw new QError('E_IO', `file access needs Node.js (node:fs unavailable: ${(e as Error).message}); in a browser call useFileSystem() first, or use readSafetensors/AutoTokenizer.fromJSON with fetched bytes`);
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

/** This process's id for temporary names; 0 in a browser, which has no `process`. */
export function processId(): number {
  return (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
}
