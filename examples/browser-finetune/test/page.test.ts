/**
 * Runs the example page in headless Chromium on WebGPU (SwiftShader on a machine without a GPU):
 * bundles src/main.ts, serves the folder from 127.0.0.1, waits for training to finish, checks the
 * loss fell and the page ran on navigator.gpu, and saves a screenshot to the OS temp dir.
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
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it.skipIf(!HAVE)('trains LoRA on navigator.gpu and the loss falls', async () => {
    const page = await browser.newPage({ viewport: { width: 760, height: 860 } });
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(url);
    let got: PageState;
    try {
      await page.waitForFunction(() => window.__q?.done === true, undefined, { timeout: 100_000, polling: 500 });
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
  }, 120_000);
});
