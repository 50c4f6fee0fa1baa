// Bundles browser-entry.ts from the consumer folder (the cwd: @q/core from its node_modules) with
// esbuild for the browser, tree-shaken, checks that unused ops were dropped, then runs it in headless
// Chromium on WebGPU and compares backward()'s gradient with the exact one. esbuild and
// playwright-core are the repository's own (argv[2] = repository root); the code under test is
// only what npm installed.
//   node browser.mjs <repo-root>
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const repo = createRequire(`${process.argv[2]}/package.json`);
const { build } = repo('esbuild');
const { chromium } = repo('playwright-core');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Chromium's SwiftShader Vulkan gives a WebGPU adapter without a GPU (as core's browser test).
const ARGS = ['--enable-unsafe-webgpu', '--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--use-angle=swiftshader',
  '--enable-features=Vulkan', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const fail = (m) => {
  console.error(`browser: ${m}`);
  process.exit(1);
};
if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

const out = await build({ entryPoints: ['browser-entry.ts'], bundle: true, platform: 'browser', format: 'esm', target: 'es2022', minify: true, write: false, logLevel: 'error' });
const js = out.outputFiles[0].text;
// Tree shaking: ops the entry never reaches must be gone, and the Node addon never bundled.
for (const dropped of ['maskedSoftmax', 'crossEntropy', 'rmsNorm', 'safetensors']) {
  if (js.includes(dropped)) fail(`the tree-shaken bundle still holds ${dropped}`);
}
if (/dawn\.node/.test(js)) fail('the bundle holds the Node addon');
console.log(`browser bundle: ${(js.length / 1024).toFixed(1)} KiB (minified, tree-shaken)`);

const page = '<!doctype html><meta charset="utf-8"><script type="module" src="/entry.js"></script>';
const server = createServer((req, res) => {
  const isJs = req.url === '/entry.js';
  res.writeHead(isJs || req.url === '/' ? 200 : 404, { 'content-type': isJs ? 'text/javascript' : 'text/html' });
  res.end(isJs ? js : req.url === '/' ? page : '');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
try {
  const p = await browser.newPage();
  const logs = [];
  p.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  p.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await p.goto(`http://127.0.0.1:${server.address().port}/`);
  await p.waitForFunction(() => 'qResult' in globalThis, undefined, { timeout: 20_000 });
  const r = await p.evaluate(() => globalThis.qResult);
  if (r.error) fail(`${r.error}\n${logs.join('\n')}`);
  if (r.runtime !== 'browser') fail(`ran on ${r.runtime}, not navigator.gpu`);
  const err = Math.max(...r.dA.map((v, i) => Math.abs(v - r.want[i])));
  console.log(`browser backward(): dA max error ${err.toExponential(2)} (runtime ${r.runtime})`);
  if (!(err < 1e-5)) fail(`gradient off: got ${r.dA}, want ${r.want}`);
} finally {
  await browser.close();
  server.close();
}
