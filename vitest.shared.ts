// Tests import sibling packages from their sources, so `npm test -w @q/x` needs no prior build
// and a change in @q/core is seen by every dependent's tests at once.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { readdirSync } from 'node:fs';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = readdirSync(packagesDir).flatMap((name) => [
  { find: new RegExp(`^@q/${name}$`), replacement: `${packagesDir}${name}/src/index.ts` },
  // Subpath exports (e.g. @q/core/testing) map to src/<subpath>/index.ts.
  { find: new RegExp(`^@q/${name}/(.+)$`), replacement: `${packagesDir}${name}/src/$1/index.ts` },
]);

export function packageConfig(extra: { testTimeout?: number } = {}) {
  return defineConfig({
    resolve: { alias },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      // One GPU device per worker; lavapipe runs on the CPU, so more forks only contend.
      pool: 'forks',
      poolOptions: { forks: { singleFork: true } },
      testTimeout: extra.testTimeout ?? 60_000,
      hookTimeout: 60_000,
      reporters: process.env.CI ? ['default'] : ['default'],
    },
  });
}
