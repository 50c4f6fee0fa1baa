// Bundles a benchmark (benchmarks/src/<name>.ts, @q/core from its sources) into dist/<name>.mjs
// and runs it with the remaining arguments: `node scripts/run.mjs core-ops --json out.json`.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readdirSync, readFileSync } from 'node:fs';

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
// Subpath exports (`@q/core/kernel`) get their own entries: esbuild would otherwise append the
// subpath to the package's alias.
const alias = Object.fromEntries(
  readdirSync(pkgs).flatMap((p) => {
    const subs = Object.keys(JSON.parse(readFileSync(`${pkgs}${p}/package.json`, 'utf8')).exports ?? {})
      .filter((k) => k.startsWith('./') && k !== './package.json')
      .map((k) => k.slice(2));
    return [[`@q/${p}`, `${pkgs}${p}/src/index.ts`], ...subs.map((sub) => [`@q/${p}/${sub}`, `${pkgs}${p}/src/${sub}/index.ts`])];
  }),
);
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
