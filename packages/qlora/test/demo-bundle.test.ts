// `npm run demo` (the README's first command) bundles the CLI from the sources with esbuild: every
// @q import, subpaths included, must resolve. (A @q/core/kernel import once broke it unnoticed.)
import { expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

it('the demo bundle builds from the sources', () => {
  const script = fileURLToPath(new URL('../../../scripts/demo.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--bundle-only'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(existsSync(r.stdout.trim())).toBe(true);
}, 120_000);
