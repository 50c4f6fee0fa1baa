/**
 * The one place that knows whether we run in Node (Dawn, through the `webgpu` package) or in a
 * browser (navigator.gpu). Everything else talks to {@link QDevice}.
 */
import { DeviceError } from './errors';
import { nodeFs, withQuietStderr } from './quiet-stderr';

export interface DeviceOptions {
  /** Ask for f16 shaders where the adapter has them. Default true. */
  f16?: boolean;
  /** Extra Dawn toggles for Node (`enable-dawn-features=...`). */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
}

/** What the device got: features, limits and adapter description. */
export interface DeviceInfo {
  vendor: string;
  architecture: string;
  description: string;
  features: string[];
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number };
  f16: boolean;
  subgroups: boolean;
  subgroupMatrix: boolean;
  timestamps: boolean;
  runtime: 'node' | 'browser';
}

// Features worth having when they exist; none is required.
const WANTED = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'];
const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface RawDevice {
  device: GPUDevice;
  info: DeviceInfo;
  /** Frees the native instance (Node) so the process can exit. */
  destroy(): void;
}

let nodeGpu: GPU | undefined;

async function gpuEntry(opts: DeviceOptions): Promise<{ gpu: GPU; runtime: 'node' | 'browser' }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, runtime: 'browser' };
  // A variable specifier keeps bundlers from pulling the native Node addon into browser builds.
  const specifier = 'webgpu';
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = await import(/* @vite-ignore */ specifier);
  } catch (e) {
    throw new DeviceError(
      `no WebGPU here: navigator.gpu is missing and the 'webgpu' package could not be loaded (${(e as Error).message}). In Node, install it with npm; in a browser, enable WebGPU.`,
    );
  }
  Object.assign(globalThis, mod.globals);
  if (!nodeGpu) {
    // NVIDIA's Vulkan driver only exposes f16 and subgroup matrices with these Dawn toggles.
    const flags = opts.dawnFlags ?? ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'];
    nodeGpu = mod.create(flags);
  }
  return { gpu: nodeGpu, runtime: 'node' };
}

/** Opens a raw WebGPU device with every useful feature and the adapter's real limits. */
export async function openDevice(opts: DeviceOptions = {}): Promise<RawDevice> {
  const { gpu, runtime } = await gpuEntry(opts);
  // Dawn prints lavapipe's "maxDynamic… artificially reduced" limit notes to native stderr while it
  // discovers adapters; they are not for users (see quiet-stderr.ts).
  const fs = runtime === 'node' ? await nodeFs() : undefined;
  const adapter = await withQuietStderr(fs, () => gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' }));
  if (!adapter) {
    throw new DeviceError(
      runtime === 'node'
        ? 'no WebGPU adapter: install a Vulkan driver (on a CPU-only Debian/Ubuntu machine run `bash scripts/setup-webgpu.sh` as root: it installs Mesa >= 24 lavapipe and libvulkan1)'
        : 'no WebGPU adapter in this browser (Chromium: --enable-unsafe-webgpu)',
    );
  }
  const features = WANTED.filter((f) => adapter.features.has(f) && (f !== 'shader-f16' || opts.f16 !== false));
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS) requiredLimits[k] = adapter.limits[k] as number;
  const device = await adapter.requestDevice({
    requiredFeatures: features as GPUFeatureName[],
    requiredLimits,
  });
  const ai = adapter.info;
  const info: DeviceInfo = {
    vendor: ai?.vendor ?? '',
    architecture: ai?.architecture ?? '',
    description: ai?.description ?? '',
    features: [...device.features].sort(),
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    },
    f16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    subgroupMatrix: device.features.has('chromium-experimental-subgroup-matrix'),
    timestamps: device.features.has('timestamp-query'),
    runtime,
  };
  return {
    device,
    info,
    destroy() {
      device.destroy();
    },
  };
}

/** Drops the Node WebGPU instance; without it, Dawn keeps the event loop alive. */
export function releaseNodeInstance(): void {
  nodeGpu = undefined;
}
