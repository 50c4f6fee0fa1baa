import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The package, and @q/qlora/demo (the demo's settings and scoring, free of Node imports, for
    // web pages); shared code lands in chunks.
    entry: ['src/index.ts', 'src/demo/index.ts'],
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: false,
    target: 'es2022',
  },
  {
    // The executable: a shebang, no types; npm links it as `qlora` (package.json "bin").
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'es2022',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
