// Prints the WebGPU adapter that Node gets here, or says what is missing. Exit 1 without one.
import { create } from 'webgpu';

const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('No WebGPU adapter. On Debian/Ubuntu run (as root): bash scripts/setup-webgpu.sh');
  console.error('It needs the Vulkan loader (libvulkan1) and a Vulkan driver: a GPU driver, or Mesa >= 24 lavapipe on the CPU.');
  process.exit(1);
}
const info = adapter.info;
console.log(`WebGPU adapter: ${info.vendor || '?'} ${info.architecture || ''} ${info.description || ''}`.trim());
console.log(`features: ${[...adapter.features].sort().join(', ')}`);
process.exit(0);
