#!/usr/bin/env node
/**
 * `npm run demo`: `qlora train` on the built-in model, straight from the sources. The CLI is
 * bundled with esbuild (about a second) instead of building every package with its type
 * declarations (over a minute on a 2-core machine), which a demo does not need.
 *   npm run demo [-- <config.yaml>]
 *   node scripts/demo.mjs --bundle-only     (only the bundle: the test that the demo builds)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceAliases } from './source-aliases.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgs = `${root}packages/`;
const outfile = `${root}node_modules/.cache/qlora-demo/cli.mjs`;
await build({
  entryPoints: [`${pkgs}qlora/src/cli.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu', 'koffi'],
  // Every @q package from its sources, one copy each (two copies of @q/core would open two devices).
  alias: sourceAliases(),
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  outfile,
  logLevel: 'warning',
});
if (process.argv.includes('--bundle-only')) {
  console.log(outfile);
} else {
  const r = spawnSync(process.execPath, [outfile, 'train', ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}
