// Bundles a benchmark (benchmarks/src/<name>.ts, @q/core from its sources) into dist/<name>.mjs
// and runs it with the remaining arguments: `node scripts/run.mjs core-ops --json out.json`.
import { bundleNode } from '../../scripts/bundle-node.mjs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// `--bundle-only <outfile>` writes the bundle (for the GPU machine) without running it.
const argv = process.argv.slice(2);
const only = argv.indexOf('--bundle-only');
const bundleOnly = only >= 0 ? argv.splice(only, 2)[1] : null;
const [name = 'core-ops', ...args] = argv;
const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = bundleOnly ?? `${root}dist/${name}.mjs`;
await bundleNode(`${root}src/${name}.ts`, outfile);
if (bundleOnly) process.exit(0);
const r = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
