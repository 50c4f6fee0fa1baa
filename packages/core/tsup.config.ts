import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/testing/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // The Node WebGPU addon is loaded at run time only where navigator.gpu is missing.
  external: ['webgpu'],
});
