/**
 * Browser smoke test: bundles @q/core's sources for the browser, serves them from 127.0.0.1 (a
 * secure context, which navigator.gpu needs) and runs a matmul forward + backward in headless
 * Chromium on WebGPU, checked against a float64 reference computed here.
 */
// a: [33, 17], b: [17, 29], w: [33, 29]; loss = sum(matmul(a, b) * w).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { Rng } from '../../src/random';
import type { SmokeInput, SmokeOutput } from './entry';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CI = !!process.env.CI && process.env.CI !== 'false';
const HAVE = existsSync(CHROMIUM);
// Chromium's SwiftShader Vulkan gives the WebGPU adapter on a machine without a GPU.
const ARGS = [
  '--enable-unsafe-webgpu',
  '--headless=new',
  '--no-sandbox', // the test runs as root
  '--disable-gpu-sandbox',
  '--use-angle=swiftshader',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const TOL = 1e-4;
const [M, K, N] = [33, 17, 29];

if (!HAVE && !CI) console.warn(`browser smoke test skipped: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH, or install Debian's chromium)`);

function random(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  // Round to f32 so the reference sees exactly the values the GPU gets.
  return Array.from(Float32Array.from({ length: n }, () => rng.normal()));
}

/** Float64 reference: C = A·B, dA = W·Bᵀ, dB = Aᵀ·W. */
function reference({ a, b, w }: SmokeInput): { c: number[]; loss: number; dA: number[]; dB: number[] } {
  const c = new Array<number>(M * N).fill(0);
  const dA = new Array<number>(M * K).fill(0);
  const dB = new Array<number>(K * N).fill(0);
  let loss = 0;
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        c[m * N + n]! += a[m * K + k]! * b[k * N + n]!;
        dA[m * K + k]! += w[m * N + n]! * b[k * N + n]!;
        dB[k * N + n]! += a[m * K + k]! * w[m * N + n]!;
      }
      loss += c[m * N + n]! * w[m * N + n]!;
    }
  return { c, loss, dA, dB };
}

/** max |got - want| / max |want|. */
function relErr(got: number[], want: number[]): number {
  expect(got.length).toBe(want.length);
  let err = 0;
  let scale = 0;
  want.forEach((v, i) => {
    err = Math.max(err, Math.abs(got[i]! - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return err / Math.max(scale, 1e-30);
}

describe('browser (Chromium, WebGPU)', () => {
  if (!HAVE && CI) {
    it('needs Chromium under CI', () => {
      throw new Error(`CI is set but there is no Chromium at ${CHROMIUM}: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH`);
    });
    return;
  }

  let server: Server;
  let browser: Browser;
  let url = '';
  let js = '';
  beforeAll(async () => {
    if (!HAVE) return;
    const entry = fileURLToPath(new URL('./entry.ts', import.meta.url));
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    js = out.outputFiles[0]!.text;
    const page = '<!doctype html><meta charset="utf-8"><script type="module" src="/entry.js"></script>';
    server = createServer((req, res) => {
      const isJs = req.url === '/entry.js';
      res.writeHead(isJs || req.url === '/' ? 200 : 404, { 'content-type': isJs ? 'text/javascript' : 'text/html' });
      res.end(isJs ? js : req.url === '/' ? page : '');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    // No fixed waits (issue #10): on a loaded machine a launch can take any time; it ends or fails.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 0 });
  }, 0);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it.skipIf(!HAVE)('the bundle leaves the Node addon out', () => {
    // device.ts imports 'webgpu' through a variable, so esbuild must keep it a runtime import.
    expect(js).toMatch(/await import\(/);
    expect(js).not.toMatch(/dawn\.node|node_modules\/webgpu/);
  });

  it.skipIf(!HAVE)('matmul forward and backward match a float64 reference', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    const failed = new Promise<never>((_, reject) => page.on('pageerror', (e) => reject(new Error(`page error: ${e.message}\n${logs.join('\n')}`))));
    failed.catch(() => {});
    await page.goto(url);
    // Waits on the page's state: the module has run and defined qSmoke, or the page failed.
    await Promise.race([page.waitForFunction(() => 'qSmoke' in globalThis, undefined, { timeout: 0 }), failed]);
    const input: SmokeInput = { M, K, N, a: random(M * K, 1), b: random(K * N, 2), w: random(M * N, 3) };
    let got: SmokeOutput;
    try {
      got = await page.evaluate((i) => (globalThis as unknown as { qSmoke(i: SmokeInput): Promise<SmokeOutput> }).qSmoke(i), input);
    } catch (e) {
      throw new Error(`${(e as Error).message}\npage log:\n${logs.join('\n')}`);
    }
    console.log(`browser WebGPU adapter: ${got.adapter.vendor} ${got.adapter.architecture} ${got.adapter.description}`.trim());
    // It really ran on navigator.gpu, not a fallback.
    expect(got.runtime).toBe('browser');
    expect(got.adapter.vendor + got.adapter.architecture).not.toBe('');
    const want = reference(input);
    const errs = { c: relErr(got.c, want.c), dA: relErr(got.dA, want.dA), dB: relErr(got.dB, want.dB), loss: relErr([got.loss], [want.loss]) };
    console.log(`relative errors: ${JSON.stringify(errs)}`);
    for (const [k, v] of Object.entries(errs)) expect(v, k).toBeLessThan(TOL);
  }, 0);
});
