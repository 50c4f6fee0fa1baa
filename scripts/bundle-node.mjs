#!/usr/bin/env node
/**
 * Bundles a TypeScript entry for Node into one ESM file, every @q package (subpaths included)
 * from its sources, one copy each (a second @q/core would open a second device), with the native
 * addons `webgpu` and `koffi` left external: tools/ scripts, the demo, benchmarks, the device machine.
 *   node scripts/bundle-node.mjs tools/golden/make-inputs.ts .gpu/make-inputs.mjs
 *   import { bundleNode } from './bundle-node.mjs'; await bundleNode(entry, outfile);
 */
import { normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceAliases } from './source-aliases.mjs';

/** @param {string} entry @param {string} outfile */
export async function bundleNode(entry, outfile) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu', 'koffi'],
    alias: sourceAliases(),
    // CommonJS dependencies (commander, cli-progress) call require(): give the ESM bundle one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    outfile,
    logLevel: 'warning',
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const [entry, outfile] = process.argv.slice(2);
  if (!entry || !outfile) {
    console.error('usage: node scripts/bundle-node.mjs <entry.ts> <out.mjs>');
    process.exit(2);
  }
  await bundleNode(entry, outfile);
}
