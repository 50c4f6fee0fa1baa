#!/usr/bin/env node
/**
 * Bundles tools/builtin-model/train.ts into one ESM file (webgpu external, every @q package from
 * its sources, one copy each), for the GPU machine or a local run:
 *   node tools/builtin-model/bundle.mjs <outfile>
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceAliases } from '../../scripts/source-aliases.mjs';

const outfile = process.argv[2] ?? fileURLToPath(new URL('.cache/train.mjs', import.meta.url));
const pkgs = fileURLToPath(new URL('../../packages/', import.meta.url));
const alias = sourceAliases(pkgs);
await build({
  entryPoints: [fileURLToPath(new URL('train.ts', import.meta.url))],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  alias,
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  outfile,
  logLevel: 'warning',
});
console.log(`bundled ${outfile}`);
