// The Dawn crash of ../../../../shared/gpu/README.md in a few lines: drop the object that
// `create()` returned while its device lives, let V8 collect it, then wait on the queue.
// dawn.node's promise runner keeps only a raw pointer to the instance that object owns, so the
// wait polls freed memory. Runs anywhere Dawn does (lavapipe included):
//   node --expose-gc tools/gpu/probes/instance-gc.mjs         -> segfault (rc 139) or a hang
//   KEEP=1 node --expose-gc tools/gpu/probes/instance-gc.mjs  -> "survived", rc 0
// BIG=1: no forced GC; instead hold ~200 MB of typed arrays as the shared probe did, and let V8
// collect on its own. The rule our runtime keeps is written at RawDevice.owners in
// packages/core/src/device.ts.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
let gpu = create([]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice();
const kept = process.env.KEEP === '1' ? gpu : null;
gpu = null;
if (process.env.BIG === '1') {
  const junk = [];
  for (let i = 0; i < 50; i++) junk.push(new Float32Array(1 << 20).fill(i)); // 200 MB
  for (let r = 0; r < 20; r++) { junk.push(new Float32Array(1 << 20)); junk.shift(); await new Promise((res) => setTimeout(res, 5)); }
} else {
  for (let r = 0; r < 3; r++) { globalThis.gc(); await new Promise((res) => setTimeout(res, 20)); }
}
// Reuse the allocator's free lists so the freed instance's memory is overwritten.
const churn = []; for (let i = 0; i < 2000; i++) churn.push(Buffer.alloc(16 + (i % 64)).toString('hex'));
const b = device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(b, 0, new Float32Array(1 << 18));
await device.queue.onSubmittedWorkDone();
console.log('survived', kept ? '(instance kept)' : '(instance dropped)');
process.exit(0);
