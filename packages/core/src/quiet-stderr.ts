/**
 * Runs `fn` with the process's native stderr pointed at /dev/null, for Dawn's adapter discovery:
 * on Vulkan drivers that report huge dynamic-buffer limits (Mesa's lavapipe), Dawn prints
 * "maxDynamic… artificially reduced" from C++ straight to file descriptor 2, where no JavaScript
 * hook can filter it, and nothing in its API turns that log off. Discovery runs synchronously
 * inside `requestAdapter()`, so the swap lasts only that call.
 *
 * Linux only (where Node writes stderr synchronously, so no libuv watcher holds the descriptor),
 * and only when fd 2 can be reopened through /proc (a terminal, file or pipe; not a socket);
 * otherwise `fn` runs as it is. `Q_DAWN_LOG=1` keeps Dawn's messages.
 */
type Fs = typeof import('node:fs');

export async function nodeFs(): Promise<Fs | undefined> {
  const proc = (globalThis as { process?: { platform?: string; env?: Record<string, string | undefined> } }).process;
  if (proc?.platform !== 'linux' || proc.env?.Q_DAWN_LOG === '1') return undefined;
  // A variable specifier keeps bundlers from resolving a Node builtin in browser builds.
  const specifier = 'node:fs';
  try {
    return (await import(/* @vite-ignore */ specifier)) as Fs;
  } catch {
    return undefined;
  }
}

export function withQuietStderr<T>(fs: Fs | undefined, fn: () => T): T {
  if (!fs) return fn();
  let saved: number;
  try {
    saved = fs.openSync('/proc/self/fd/2', 'a');
  } catch {
    return fn();
  }
  let closed = false;
  let nul = -1;
  try {
    fs.closeSync(2);
    closed = true;
    nul = fs.openSync('/dev/null', 'w'); // open() returns the lowest free descriptor: 2
    return fn();
  } finally {
    if (nul >= 0) fs.closeSync(nul);
    if (closed) fs.openSync(`/proc/self/fd/${saved}`, 'a'); // the original target, as fd 2 again
    fs.closeSync(saved);
  }
}
