/**
 * Runs the example page in headless Chromium on WebGPU (SwiftShader on a machine without a GPU):
 * bundles src/main.ts, lays out the built-in model and the demo's data in dist/builtin, serves the
 * folder from 127.0.0.1, and waits for the demo to finish in the page. The change must be the
 * demo's: exact match on the held-out questions at most 10% before fine-tuning, at least 80% after.
 *
 * It waits on the page's state, never on a time: a loaded 2-core machine may take minutes. The
 * page always ends in phase 'done' or 'error'; each step it completes is printed, so a page that
 * stops making progress shows where it stopped. A screenshot goes to the OS temp dir.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { builtin, bundle, serve } from '../scripts/build.mjs';
import type { PageState, Score } from '../src/main';

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
// The demo's full run (20 steps, 16 questions) takes about 4 minutes in SwiftShader on 2 idle
// cores (4 min 8 s on 2026-11-29: training 141 s) and over 10 minutes on loaded ones: too long for
// every `npm test`. By default the page runs 4 steps and 3 questions and the test checks the flow
// and that the held-out loss falls; Q_BROWSER_DEMO_FULL=1 (`npm run test:full -w
// @q/examples-browser-finetune`) runs the demo's settings and checks its goal (exact match ≤ 10%
// before, ≥ 80% after). Measured here: 0/16 -> 13/16 in Chromium, as in Node.
const FULL = process.env.Q_BROWSER_DEMO_FULL === '1';

if (!HAVE && !CI) console.warn(`browser-finetune page test skipped: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH, or install Debian's chromium)`);

const right = (s: Score) => `${s.samples.filter((x) => x.correct).length}/${s.samples.length}`;

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
    // The script is served from memory; the model and data are copied to dist/builtin.
    const js = (await bundle({ write: false }))!;
    await builtin();
    server = await serve({ files: { '/dist/main.js': js } });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 0 });
  }, 0);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it.skipIf(!HAVE)(FULL ? 'fine-tunes the built-in model in 4-bit: exact match ≤ 10% before, ≥ 80% after' : 'fine-tunes the built-in model in 4-bit for 4 steps: answers before and after, held-out loss falls', async () => {
    const page = await browser.newPage({ viewport: { width: 960, height: 1200 } });
    // Playwright's own 30 s defaults would be fixed waits too.
    page.setDefaultTimeout(0);
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    // An uncaught page error (e.g. the module failed to load) ends the wait on the page's state too.
    const failed = new Promise<never>((_, reject) => page.on('pageerror', (e) => reject(new Error(`page error: ${e.message}`))));
    failed.catch(() => {});
    await page.goto(FULL ? url : `${url}?maxSteps=4&questions=3`);
    let got: PageState;
    try {
      // Each wait ends when the page's state changes: a phase begun, a step done.
      let seen = '';
      for (;;) {
        const key = await Promise.race([failed, page.waitForFunction(
          (prev) => {
            const q = window.__q;
            const k = q ? JSON.stringify([q.phase, q.losses.length]) : '';
            return k !== prev && k;
          },
          seen,
          { timeout: 0, polling: 250 },
        )]);
        seen = (await key.jsonValue()) as string;
        const [phase, steps] = JSON.parse(seen) as [PageState['phase'], number];
        if (phase === 'done' || phase === 'error') break;
        process.stderr.write(`\rbrowser-finetune: ${phase}${phase === 'training' ? ` step ${steps}` : ''}    `);
      }
      process.stderr.write('\n');
      got = await page.evaluate(() => window.__q);
    } catch (e) {
      throw new Error(`${(e as Error).message}\npage log:\n${logs.join('\n')}`);
    } finally {
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => undefined);
    }
    expect(got.error, logs.join('\n')).toBeNull();
    const { before, after } = got as { before: Score; after: Score };
    console.log(`adapter: ${got.adapter} (${got.runtime}); ${got.losses.length} steps, training ${got.trainSeconds.toFixed(0)} s, page ${got.seconds.toFixed(0)} s; screenshot: ${SCREENSHOT}`);
    console.log(`load ${got.loadSeconds.toFixed(0)} s, before ${before.seconds.toFixed(0)} s, after ${after.seconds.toFixed(0)} s`);
    console.log(`loss ${got.losses[0]?.toFixed(3)} → ${got.losses.at(-1)?.toFixed(3)}; exact match before ${right(before)}, after ${right(after)}`);
    for (const [i, s] of after.samples.entries()) console.log(`  ${s.question} | before ${JSON.stringify(before.samples[i]!.answer)} | after ${JSON.stringify(s.answer)}${s.correct ? '' : ' ✗'}`);
    // It really ran on navigator.gpu, not a fallback.
    expect(got.runtime).toBe('browser');
    expect(got.adapter).not.toBe('');
    expect(got.losses.length).toBe(got.maxSteps);
    for (const l of got.losses) expect(Number.isFinite(l)).toBe(true);
    // The demo's change: the built-in model does not answer in the tour guide's format, the tuned one does.
    expect(before.samples.length).toBe(after.samples.length);
    expect(before.exactMatch!).toBeLessThanOrEqual(0.1);
    if (FULL) expect(after.exactMatch!).toBeGreaterThanOrEqual(0.8);
    expect(after.loss).toBeLessThan(before.loss);
    // The page shows both answers to every question.
    expect(await page.locator('#answers tr').count()).toBe(after.samples.length + 1);
    await page.close();
  }, 0);
});
