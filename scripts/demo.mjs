#!/usr/bin/env node
/**
 * `npm run demo`: `qlora train` on the built-in model, straight from the sources. The CLI is
 * bundled with esbuild (about a second) instead of building every package with its type
 * declarations (over a minute on a 2-core machine), which a demo does not need.
 *   npm run demo [-- <config.yaml>]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgs = `${root}packages/`;
const outfile = `${root}node_modules/.cache/qlora-demo/cli.mjs`;
await build({
  entryPoints: [`${pkgs}qlora/src/cli.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  // Every @q package from its sources, one copy each (two copies of @q/core would open two devices).
  alias: Object.fromEntries(readdirSync(pkgs).map((p) => [`@q/${p}`, `${pkgs}${p}/src/index.ts`])),
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  outfile,
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, [outfile, 'train', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exitCode = r.status ?? 1;
