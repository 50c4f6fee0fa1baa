// Bundles a benchmark (benchmarks/src/<name>.ts, @q/core from its sources) into dist/<name>.mjs
// and runs it with the remaining arguments: `node scripts/run.mjs core-ops --json out.json`.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [name = 'core-ops', ...args] = process.argv.slice(2);
const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/${name}.mjs`;
await build({
  entryPoints: [`${root}src/${name}.ts`],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  // CommonJS dependencies (cli-progress) require Node built-ins; an ESM bundle needs a require.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  outfile,
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
