import { defineConfig } from 'tsup';

export default defineConfig({
  // Two faces and the test helpers; shared code lands in chunks, so device and tape state exist once.
  entry: ['src/index.ts', 'src/kernel/index.ts', 'src/testing/index.ts'],
  format: ['esm'],
  // The declarations name GPUDevice, GPUBuffer...: every .d.ts pulls in @webgpu/types (a dependency)
  // and the DOM lib it is written against (BufferSource, EventTarget, ImageBitmap...), so a Node
  // consumer compiles with skipLibCheck off and no `types` or `lib` setting of its own.
  dts: { banner: '/// <reference lib="dom" />\n/// <reference types="@webgpu/types" />' },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // The Node WebGPU addon is loaded at run time only where navigator.gpu is missing.
  external: ['webgpu'],
});
