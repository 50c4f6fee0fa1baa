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
import { bundleNode } from './bundle-node.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgs = `${root}packages/`;
const outfile = `${root}node_modules/.cache/qlora-demo/cli.mjs`;
await bundleNode(`${pkgs}qlora/src/cli.ts`, outfile);
if (process.argv.includes('--bundle-only')) {
  console.log(outfile);
} else {
  const r = spawnSync(process.execPath, [outfile, 'train', ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}
