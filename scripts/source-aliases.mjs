/**
 * esbuild aliases that resolve every @q package, and its subpath exports (@q/core/kernel,
 * @q/core/testing), to its TypeScript sources: one copy of each package in a bundle (a second
 * @q/core would open a second device). Subpaths need entries of their own, since esbuild appends
 * a subpath to its package's alias.
 *   import { sourceAliases } from '../../scripts/source-aliases.mjs';
 *   await build({ ..., alias: sourceAliases() });
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = fileURLToPath(new URL('../packages/', import.meta.url));

/** @returns {Record<string, string>} */
export function sourceAliases(packagesDir = PACKAGES) {
  return Object.fromEntries(
    readdirSync(packagesDir).flatMap((p) => {
      const subs = Object.keys(JSON.parse(readFileSync(join(packagesDir, p, 'package.json'), 'utf8')).exports ?? {})
        .filter((k) => k.startsWith('./') && k !== './package.json')
        .map((k) => k.slice(2));
      return [[`@q/${p}`, join(packagesDir, p, 'src', 'index.ts')], ...subs.map((sub) => [`@q/${p}/${sub}`, join(packagesDir, p, 'src', sub, 'index.ts')])];
    }),
  );
}
