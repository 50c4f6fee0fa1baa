// @q/qlora/demo is what a web page imports (examples/browser-finetune): bundled for a browser, it
// must hold no static import of a Node built-in (one would fail the page's module load), and it
// must give the same settings the CLI's demo trains with.
import { expect, it } from 'vitest';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { sourceAliases } from '../../../scripts/source-aliases.mjs';
import * as demo from '../src/demo';
import { builtinTraining, parseTrainConfig } from '../src';

it('bundles for a browser with no static node: import', async () => {
  const out = await build({
    entryPoints: [fileURLToPath(new URL('../src/demo/index.ts', import.meta.url))],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    alias: sourceAliases(),
    // @q's file functions import node:fs with a literal specifier inside the function that needs it.
    external: ['node:*', 'webgpu'],
    logLevel: 'silent',
  });
  const js = out.outputFiles[0]!.text;
  expect(js.match(/^import[^;]*from\s*["'](node:[^"']+|webgpu)["']/gm) ?? []).toEqual([]);
}, 60_000);

it('holds the settings `qlora train` uses for the built-in demo', () => {
  const cfg = parseTrainConfig({});
  expect(builtinTraining()).toMatchObject(demo.BUILTIN_TRAINING);
  expect(cfg.training).toMatchObject({ maxSteps: demo.BUILTIN_TRAINING.maxSteps, learningRate: demo.BUILTIN_TRAINING.learningRate });
  expect(cfg.dataset).toMatchObject({ testSize: demo.BUILTIN_TEST_SIZE, seed: demo.DATASET_SECTION_DEFAULTS.seed });
  expect(cfg.eval).toMatchObject({ maxNewTokens: demo.EVAL_SECTION_DEFAULTS.maxNewTokens, batchSize: demo.EVAL_SECTION_DEFAULTS.batchSize });
  expect(cfg.lora).toMatchObject({ r: demo.BUILTIN_LORA.r, targetModules: [...demo.BUILTIN_LORA.targetModules] });
});
