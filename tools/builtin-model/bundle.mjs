#!/usr/bin/env node
/**
 * Bundles tools/builtin-model/train.ts into one ESM file (webgpu external, every @q package from
 * its sources, one copy each), for the GPU machine or a local run:
 *   node tools/builtin-model/bundle.mjs <outfile>
 */
import { fileURLToPath } from 'node:url';
import { bundleNode } from '../../scripts/bundle-node.mjs';

const outfile = process.argv[2] ?? fileURLToPath(new URL('.cache/train.mjs', import.meta.url));
await bundleNode(fileURLToPath(new URL('train.ts', import.meta.url)), outfile);
console.log(`bundled ${outfile}`);
