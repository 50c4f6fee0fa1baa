/**
 * Runs the example page in headless Chromium on WebGPU (SwiftShader on a machine without a GPU):
 * bundles src/main.ts, serves the folder from 127.0.0.1, waits for training to finish, checks the
 * loss fell and the page ran on navigator.gpu, and saves a screenshot to the OS temp dir.
 *
 * It waits on the page's state, never on a time: a loaded 2-core machine may take minutes, and a
 * fixed 100 s wait once failed at 100.1 s and hid the tests after it. The page always ends with
 * `done` (an error sets it too, with `error`); each step it completes is printed, so a page that
 * stops making progress shows where it stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { bundle, serve } from '../scripts/build.mjs';
import type { PageState } from '../src/main';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CI = !!process.env.CI && process.env.CI !== 'false';
const HAVE = existsSync(CHROMIUM);
// The same flags as packages/core/test/browser: SwiftShader's Vulkan gives the WebGPU adapter.
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
const SCREENSHOT = join(tmpdir(), 'q-browser-finetune.png');

if (!HAVE && !CI) console.warn(`browser-finetune page test skipped: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH, or install Debian's chromium)`);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('browser fine-tuning page (Chromium, WebGPU)', () => {
  if (!HAVE && CI) {
    it('needs Chromium under CI', () => {
      throw new Error(`CI is set but there is no Chromium at ${CHROMIUM}: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH`);
    });
    return;
  }

  let server: Server;
  let browser: Browser;
  let url = '';
  beforeAll(async () => {
    if (!HAVE) return;
    // Served from memory, so the test neither needs nor overwrites dist/.
    const js = (await bundle({ write: false }))!;
    server = await serve({ files: { '/dist/main.js': js } });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 0 });
  }, 0);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it.skipIf(!HAVE)('trains LoRA on navigator.gpu and the loss falls', async () => {
    const page = await browser.newPage({ viewport: { width: 760, height: 860 } });
    // Playwright's own 30 s defaults would be fixed waits too.
    page.setDefaultTimeout(0);
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    // An uncaught page error (e.g. the module failed to load) ends the wait on the page's state too.
    const failed = new Promise<never>((_, reject) => page.on('pageerror', (e) => reject(new Error(`page error: ${e.message}`))));
    failed.catch(() => {});
    await page.goto(url);
    let got: PageState;
    try {
      // Each wait ends when the page's state changes: a step done, an answer written, or the end.
      let seen = '';
      for (;;) {
        const key = await Promise.race([failed, page.waitForFunction(
          (prev) => {
            const q = window.__q;
            const k = q ? JSON.stringify([q.losses.length, q.before, q.after, q.done]) : '';
            return k !== prev && k;
          },
          seen,
          { timeout: 0, polling: 250 },
        )]);
        seen = (await key.jsonValue()) as string;
        const [steps, , , done] = JSON.parse(seen) as [number, string, string, boolean];
        if (done) break;
        if (steps > 0) process.stderr.write(`\rbrowser-finetune: step ${steps}`);
      }
      process.stderr.write('\n');
      got = await page.evaluate(() => window.__q);
    } catch (e) {
      throw new Error(`${(e as Error).message}\npage log:\n${logs.join('\n')}`);
    } finally {
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => undefined);
    }
    console.log(`adapter: ${got.adapter} (${got.runtime}); ${got.losses.length} steps in ${got.seconds.toFixed(1)} s; screenshot: ${SCREENSHOT}`);
    console.log(`loss ${got.losses[0]?.toFixed(3)} → ${got.losses.at(-1)?.toFixed(3)}; greedy "${got.prompt}" → before "${got.before}", after "${got.after}"`);
    expect(got.error, logs.join('\n')).toBeNull();
    // It really ran on navigator.gpu, not a fallback.
    expect(got.runtime).toBe('browser');
    expect(got.adapter).not.toBe('');
    expect(got.losses.length).toBe(40);
    for (const l of got.losses) expect(Number.isFinite(l)).toBe(true);
    const first = mean(got.losses.slice(0, 5));
    const last = mean(got.losses.slice(-5));
    // A clear margin: the last five steps' mean loss is at most 60% of the first five's.
    expect(last).toBeLessThan(0.6 * first);
    // LoRA's B starts at zero, so "before" is the base model; training changed what it says.
    expect(got.after).not.toBe(got.before);
    expect(got.tokensPerSecond).toBeGreaterThan(0); // the live speed readout was fed
  }, 0);
});
