/**
 * The app in headless Chromium (SwiftShader's WebGPU on a machine without a GPU), as a user drives
 * it: pick the built-in model folder's files and a small dataset through the file inputs, train a
 * few steps, download the adapter. The downloaded adapter must equal what Node training gives
 * from the same seed and data (the same recipe, src/recipe.ts, on lavapipe). A second page asks
 * for too little memory and must be refused, with the numbers, before anything loads.
 * No test waits for a fixed time: each waits on the page's state (window.__app).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { chromium, type Browser, type Page } from 'playwright-core';
import { getDevice, readSafetensors } from '@q/core';
import { builtin, bundle, ROOT, serve } from '../scripts/build.mjs';
import type { AppState } from '../src/main';
import { loadRun, makeTrainer } from '../src/recipe';
import { SEED_SETTINGS, type Settings } from '../src/settings';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CI = !!process.env.CI && process.env.CI !== 'false';
const HAVE = existsSync(CHROMIUM);
const ARGS = [
  '--enable-unsafe-webgpu', '--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--use-angle=swiftshader',
  '--enable-features=Vulkan', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];
// A run small enough for a software rasterizer: 2 optimizer steps of batch 2, one held-out question.
const RUN: Partial<Settings> = {
  maxSteps: 2, perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 1, maxLength: 48, r: 4, loraAlpha: 8, loraDropout: 0,
  targetModules: ['q_proj', 'v_proj'], learningRate: 0.01, saveSteps: 100, testSize: 2, questions: 1, answerTokens: 2, seed: 1,
};
const query = (s: Partial<Settings>) => `?${Object.entries(s).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join('&')}`;
const dir = mkdtempSync(join(tmpdir(), 'q-browser-qlora-'));
const DATA = join(dir, 'capitals.jsonl');
const CAPITALS = [['France', 'Paris'], ['Japan', 'Tokyo'], ['Kenya', 'Nairobi'], ['Chile', 'Santiago'], ['Norway', 'Oslo'], ['Egypt', 'Cairo'], ['Peru', 'Lima'], ['Spain', 'Madrid']];

if (!HAVE && !CI) console.warn(`browser-qlora app test skipped: no Chromium at ${CHROMIUM}`);

describe('QLoRA app in the browser (Chromium, WebGPU)', () => {
  if (!HAVE && CI) {
    it('needs Chromium under CI', () => {
      throw new Error(`CI is set but there is no Chromium at ${CHROMIUM}`);
    });
    return;
  }
  let server: Server;
  let browser: Browser;
  let url = '';
  let modelDir = '';
  beforeAll(async () => {
    if (!HAVE) return;
    await bundle();
    await builtin();
    modelDir = join(ROOT, 'dist', 'builtin', 'model');
    writeFileSync(DATA, CAPITALS.map(([c, k]) => JSON.stringify({ messages: [{ role: 'user', content: `What is the capital of ${c}?` }, { role: 'assistant', content: `The capital of ${c} is ${k}.` }] })).join('\n'));
    server = await serve();
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  async function open(settings: Partial<Settings>): Promise<{ page: Page; logs: string[] }> {
    const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1000, height: 1400 } });
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(url + query(settings));
    return { page, logs };
  }
  const until = (page: Page, phases: AppState['phase'][]) =>
    page.waitForFunction((p) => p.includes(window.__app.phase), phases, { timeout: 0, polling: 250 });

  it.skipIf(!HAVE)('picks a model folder and a dataset, trains, and downloads an adapter equal to Node training', async () => {
    const { page, logs } = await open(RUN);
    await page.setInputFiles('#model-files', readdirSync(modelDir).map((f) => join(modelDir, f)));
    await page.setInputFiles('#dataset', DATA);
    await page.click('#train');
    await until(page, ['done', 'error', 'refused']);
    const got = await page.evaluate(() => window.__app);
    await page.screenshot({ path: join(tmpdir(), 'q-browser-qlora.png'), fullPage: true });
    expect(got.error, logs.join('\n')).toBeNull();
    expect(got.phase).toBe('done');
    expect(got.adapter).toMatch(/\(browser\)$/);
    expect(got.plan!.rows.length).toBeGreaterThan(3);
    expect(got.plan!.refusals).toEqual([]);
    expect(got.losses.map((l) => l.step)).toEqual([1, 2]);
    for (const l of got.losses) expect(Number.isFinite(l.loss)).toBe(true);
    expect(got.before).toHaveLength(1);
    expect(got.after).toHaveLength(1);
    expect(await page.locator('#answers tr').count()).toBe(2);

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 0 }), page.click('#dl-adapter')]);
    expect(download.suggestedFilename()).toBe('adapter.zip');
    const zip = unzipSync(new Uint8Array(readFileSync(await download.path())));
    expect(Object.keys(zip).sort()).toEqual(['adapter/adapter_config.json', 'adapter/adapter_model.safetensors']);
    const cfg = JSON.parse(new TextDecoder().decode(zip['adapter/adapter_config.json']));
    expect(cfg).toMatchObject({ r: 4, lora_alpha: 8, peft_type: 'LORA', target_modules: expect.arrayContaining(['q_proj', 'v_proj']) });
    await page.close();

    // The same recipe in Node, on lavapipe: the same seed and data give the same adapter.
    const dev = await getDevice();
    const s = { ...SEED_SETTINGS, ...RUN } as Settings;
    const run = await loadRun(modelDir, DATA, s);
    const { peft, trainer } = makeTrainer(run, s, join(dir, 'node-run'));
    await trainer.train();
    await trainer.saveModel(join(dir, 'node-adapter'));
    peft.release();
    dev.dispose();
    const ours = await readSafetensors(readFileSync(join(dir, 'node-adapter', 'adapter_model.safetensors')), 'node');
    const theirs = await readSafetensors(zip['adapter/adapter_model.safetensors']!, 'browser');
    expect(theirs.names().sort()).toEqual(ours.names().sort());
    let diff = 0;
    let scale = 0;
    for (const n of ours.names()) {
      const [a, b] = [await ours.readF32(n), await theirs.readF32(n)];
      for (let i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(a[i]!));
      }
    }
    console.log(`browser vs Node adapter: max |diff| ${diff.toExponential(2)} at scale ${scale.toExponential(2)}`);
    // Two f32 WebGPU implementations (SwiftShader, lavapipe) running the same kernels.
    expect(diff).toBeLessThan(1e-4 * scale);
  });

  it.skipIf(!HAVE)('pause holds training, stop keeps a checkpoint in OPFS, and a reload resumes from it', async () => {
    const settings = { ...RUN, maxSteps: 6, saveSteps: 1, testSize: 0 };
    const pick = async (page: Page) => {
      await page.setInputFiles('#model-files', readdirSync(modelDir).map((f) => join(modelDir, f)));
      await page.setInputFiles('#dataset', DATA);
    };
    const held = async (page: Page) => {
      await page.waitForFunction(() => window.__app.heldAt !== null || window.__app.error !== null, undefined, { timeout: 0, polling: 100 });
      return page.evaluate(() => window.__app);
    };
    const { page, logs } = await open(settings);
    await pick(page);
    await page.click('#train');
    await page.waitForFunction(() => window.__app.steps >= 1 || window.__app.error !== null, undefined, { timeout: 0, polling: 100 });
    await page.click('#pause');
    const first = await held(page);
    expect(first.error, logs.join('\n')).toBeNull();
    // Held: no step beyond the one it stopped after was taken.
    expect(first.steps).toBe(first.heldAt);
    await page.click('#pause'); // now "Resume"
    await page.waitForFunction((h) => window.__app.steps > (h ?? 0), first.heldAt, { timeout: 0, polling: 100 });
    await page.click('#pause');
    const second = await held(page);
    expect(second.steps).toBe(second.heldAt);
    expect(second.heldAt!).toBeGreaterThan(first.heldAt!);
    // Stop while held: training ends at that step and keeps a checkpoint of it.
    await page.click('#stop');
    await until(page, ['done', 'error']);
    const stopped = await page.evaluate(() => window.__app);
    expect(stopped.error, logs.join('\n')).toBeNull();
    expect(stopped.steps).toBe(second.heldAt);
    expect(stopped.steps).toBeLessThan(6);

    // A reload: the same files and settings find the checkpoint in the browser's storage.
    await page.reload();
    await pick(page);
    await page.click('#train');
    await until(page, ['done', 'error']);
    const resumed = await page.evaluate(() => window.__app);
    expect(resumed.error, logs.join('\n')).toBeNull();
    expect(resumed.resumedFrom).toBe(stopped.steps);
    expect(resumed.losses.map((l) => l.step)).toEqual(Array.from({ length: 6 - stopped.steps }, (_, i) => stopped.steps + 1 + i));
    await page.close();
  });

  it.skipIf(!HAVE)('refuses, with the numbers, what will not fit, before loading anything', async () => {
    const { page, logs } = await open({ ...RUN, memoryBudgetGiB: 0.001 });
    await page.click('#train');
    await until(page, ['done', 'error', 'refused']);
    const got = await page.evaluate(() => window.__app);
    expect(got.phase, logs.join('\n')).toBe('refused');
    expect(got.refusals.join('\n')).toMatch(/training needs about [\d.]+ MiB, over the 1\.0 MiB memory budget/);
    expect(await page.locator('#refused').textContent()).toMatch(/Not started/);
    expect(got.losses).toEqual([]);
    await page.close();
  });
});
