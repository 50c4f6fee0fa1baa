// Bundles a benchmark (benchmarks/src/<name>.ts, @q/core from its sources) into dist/<name>.mjs
// and runs it with the remaining arguments: `node scripts/run.mjs core-ops --json out.json`.
import { build } from 'esbuild';
import { sourceAliases } from '../../scripts/source-aliases.mjs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// `--bundle-only <outfile>` writes the bundle (for the GPU machine) without running it.
const argv = process.argv.slice(2);
const only = argv.indexOf('--bundle-only');
const bundleOnly = only >= 0 ? argv.splice(only, 2)[1] : null;
const [name = 'core-ops', ...args] = argv;
const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = bundleOnly ?? `${root}dist/${name}.mjs`;
// Every @q package from its sources, one copy each: a second copy of @q/core would open a second
// device whose buffers the first cannot use.
const pkgs = fileURLToPath(new URL('../../packages/', import.meta.url));
const alias = sourceAliases(pkgs);
await build({
  entryPoints: [`${root}src/${name}.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // koffi (the MPI benchmark's FFI) is a native addon, as webgpu is.
  external: ['webgpu', 'koffi'],
  alias,
  // CommonJS dependencies (cli-progress) require Node built-ins; an ESM bundle needs a require.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  outfile,
  logLevel: 'warning',
});
if (bundleOnly) process.exit(0);
const r = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
