#!/usr/bin/env node
/**
 * Bundles a TypeScript entry for Node into one ESM file, every @q package (subpaths included)
 * from its sources, `webgpu` and `koffi` left external: for tools/ scripts and the device machine.
 *   node scripts/bundle-node.mjs tools/golden/make-inputs.ts .gpu/make-inputs.mjs
 */
import { build } from 'esbuild';
import { sourceAliases } from './source-aliases.mjs';

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error('usage: node scripts/bundle-node.mjs <entry.ts> <out.mjs>');
  process.exit(2);
}
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu', 'koffi'],
  alias: sourceAliases(),
  // CommonJS dependencies (commander) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  outfile,
  logLevel: 'warning',
});
