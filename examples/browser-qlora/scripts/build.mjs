/**
 * Builds the app into dist/ and serves it.
 *   node scripts/build.mjs            dist/main.js, dist/worker.js, dist/main.css, dist/builtin/
 *   node scripts/build.mjs --serve    the same, then http://127.0.0.1:8080 (--port N)
 * Every @q package resolves to its TypeScript sources, so the page holds one copy of @q/core and
 * needs no prior `npm run build`. dist/builtin/ holds the built-in model folder and dataset that
 * the page uses when the user picks nothing.
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = join(REPO, 'packages');

/** @q's built-in model (a small Llama @q trained on country facts) and the demo's dataset. */
export const BUILTIN_MODEL_DIR = join(PACKAGES, 'qlora', 'builtin');
export const BUILTIN_DATASET = join(PACKAGES, 'qlora', 'data', 'guide-chat.jsonl');

const qSources = {
  name: 'q-sources',
  setup(b) {
    b.onResolve({ filter: /^@q\/[^/]+(\/.+)?$/ }, ({ path }) => {
      const [, name, sub] = /^@q\/([^/]+)(?:\/(.+))?$/.exec(path);
      return { path: join(PACKAGES, name, 'src', sub ?? '', 'index.ts') };
    });
  },
};

/** Bundles the page and its worker into dist/. */
export async function bundle() {
  await build({
    entryPoints: { main: join(ROOT, 'src/main.ts'), worker: join(ROOT, 'src/worker.ts') },
    outdir: join(ROOT, 'dist'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    plugins: [qSources],
    // @q's Node-only modules are imported only when called without useFileSystem(); the page never does.
    external: ['node:*'],
    logLevel: 'warning',
  });
}

/**
 * Copies the built-in model folder and dataset into `out` (default dist/builtin), the page's
 * default, with a manifest.json listing them. examples/browser-finetune serves them the same way.
 */
export async function builtin(out = join(ROOT, 'dist', 'builtin')) {
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, 'model'), { recursive: true });
  // The model card stays behind: the page loads what a model folder needs.
  for (const f of await readdir(BUILTIN_MODEL_DIR)) if (!f.endsWith('.md')) await copyFile(join(BUILTIN_MODEL_DIR, f), join(out, 'model', f));
  await copyFile(BUILTIN_DATASET, join(out, 'data.jsonl'));
  const manifest = { model: (await readdir(join(out, 'model'))).sort(), dataset: 'data.jsonl' };
  await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.map': 'application/json', '.css': 'text/css', '.json': 'application/json' };

/** Serves the app's folder from 127.0.0.1 (a secure context, which navigator.gpu and OPFS need). */
export async function serve({ port = 0 } = {}) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    const rel = url === '/' ? '/index.html' : url.startsWith('/builtin/') ? `/dist${url}` : url;
    try {
      const path = normalize(join(ROOT, decodeURIComponent(rel)));
      if (!path.startsWith(ROOT)) throw new Error('outside the app');
      const body = await readFile(path);
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
  const m = await builtin();
  console.log(`built dist/ (built-in model: ${m.model.join(', ')})`);
  if (process.argv.includes('--serve')) {
    const i = process.argv.indexOf('--port');
    const server = await serve({ port: i > 0 ? Number(process.argv[i + 1]) : 8080 });
    console.log(`open http://127.0.0.1:${server.address().port}/ in a browser with WebGPU (Ctrl-C stops)`);
  }
}
