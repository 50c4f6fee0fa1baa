/**
 * Bundles src/main.ts for the browser into dist/main.js, copies @q's built-in model folder and the
 * demo's dataset into dist/builtin/ (browser-qlora's `builtin()`), and serves the example's folder.
 *   node scripts/build.mjs            build
 *   node scripts/build.mjs --serve    build, then serve on http://127.0.0.1:8080 (--port N)
 * Every @q package resolves to its TypeScript sources (packages/<name>/src/index.ts), so the page
 * holds one copy of @q/core (one device, one buffer pool) and needs no prior `npm run build`.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { builtin as copyBuiltin } from '../../browser-qlora/scripts/build.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = fileURLToPath(new URL('../../../packages/', import.meta.url));

/** esbuild plugin: `@q/x` → packages/x/src/index.ts, `@q/x/sub` → packages/x/src/sub/index.ts. */
const qSources = {
  name: 'q-sources',
  setup(b) {
    b.onResolve({ filter: /^@q\/[^/]+(\/.+)?$/ }, ({ path }) => {
      const [, name, sub] = /^@q\/([^/]+)(?:\/(.+))?$/.exec(path);
      return { path: join(PACKAGES, name, 'src', sub ?? '', 'index.ts') };
    });
  },
};

/**
 * Builds the page's script. With `write: false` the bundle comes back as text (the test serves
 * it from memory); otherwise it lands in dist/main.js.
 */
export async function bundle({ write = true } = {}) {
  const out = await build({
    entryPoints: [join(ROOT, 'src/main.ts')],
    outfile: join(ROOT, 'dist/main.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: write,
    write,
    plugins: [qSources],
    // @q's Node-only modules are imported only when called without useFileSystem(); the page never does.
    external: ['node:*'],
    logLevel: write ? 'info' : 'silent',
  });
  return write ? null : out.outputFiles.find((f) => f.path.endsWith('.js')).text;
}

/** The built-in model folder and the demo's dataset, in dist/builtin/ with a manifest.json. */
export function builtin() {
  return copyBuiltin(join(ROOT, 'dist', 'builtin'));
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.map': 'application/json', '.css': 'text/css', '.json': 'application/json' };

/**
 * Serves `files` (URL path → text) first, then the example's folder, from 127.0.0.1: a secure
 * context, which navigator.gpu needs. Resolves to the server once it listens.
 */
export async function serve({ port = 0, files = {} } = {}) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    const rel = url === '/' ? '/index.html' : url;
    try {
      const path = normalize(join(ROOT, decodeURIComponent(rel)));
      if (!path.startsWith(ROOT)) throw new Error('outside the example');
      const body = files[rel] ?? (await readFile(path));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${url}`);
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  await bundle();
  await builtin();
  if (process.argv.includes('--serve')) {
    const i = process.argv.indexOf('--port');
    const server = await serve({ port: i > 0 ? Number(process.argv[i + 1]) : 8080 });
    console.log(`open http://127.0.0.1:${server.address().port}/ in a browser with WebGPU (Ctrl-C stops)`);
  }
}
