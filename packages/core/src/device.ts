/**
 * The one place that knows whether we run in Node (Dawn, through the `webgpu` package) or in a
 * browser (navigator.gpu). Everything else talks to {@link QDevice}.
 */
import { DeviceError } from './errors';
import { nodeFs, withQuietStderr } from './quiet-stderr';

export interface DeviceOptions {
  /** Ask for f16 shaders where the adapter has them. Default true. */
  f16?: boolean;
  /** Dawn's flags for Node in full (`enable-dawn-features=...`), replacing @q's own. */
  dawnFlags?: string[];
  /** Node: Dawn toggles added to @q's own (tuning runs, e.g. `skip_validation`). */
  toggles?: string[];
  /**
   * Node only: Dawn's shader robustness (index clamping of every buffer and workgroup-array
   * access). Default false in Node: Dawn's `disable_robustness` toggle is set, as Chromium's
   * Graphite and native ML runtimes on Dawn do. @q's kernels bound-check their global accesses
   * themselves (the test suite runs this way), and clamping costs the tensor-core kernels most of
   * their speed: on an H200, f16 at 4096³ ran at 64.8 TFLOP/s with robustness and 117.6 without.
   * `true` (or the env variable Q_ROBUSTNESS=on) keeps it. Browsers always keep robustness.
   */
  robustness?: boolean;
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
  /** The adapter's subgroup-matrix shapes (empty without the feature): M x N result, K inner. */
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
  /** Subgroup sizes the adapter may use (0 when it does not say). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  timestamps: boolean;
  runtime: 'node' | 'browser';
  /** Whether Dawn clamps shader accesses (see {@link DeviceOptions.robustness}); absent = true. */
  robustness?: boolean;
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

/** One shape of 'chromium-experimental-subgroup-matrix' (adapter.info.subgroupMatrixConfigs). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface RawDevice {
  device: GPUDevice;
  info: DeviceInfo;
  /**
   * The `GPU` object (navigator.gpu, or the Dawn instance from `create()` in Node) and the adapter
   * this device came from. Whoever holds the device must hold these too; the rule:
   *
   * **Keep the object returned by `create()` (the Dawn instance) reachable for as long as any
   * adapter, device, buffer or pending promise made from it is alive.**
   *
   * In dawn.node (webgpu 0.6.2) the `GPU` object owns the native instance through a unique_ptr,
   * and the runner that services every promise (requestDevice, mapAsync, onSubmittedWorkDone,
   * lost) keeps only a raw pointer to it; adapters and devices hold that runner, not the `GPU`.
   * Once no JS value references the `GPU`, V8 may collect it, its finalizer deletes the instance,
   * and the next wait polls freed memory: a segfault, "The futex facility returned an unexpected
   * error code", a glibc mutex assertion, std::system_error or a hang. A GC has to run first (big
   * host typed arrays make one likely) and the finalizer needs an event-loop turn (any await):
   * this is why ../shared/gpu/probes/subgroup-matrix.mjs died only when it waited after
   * allocating ~190 MB on the host, and why exiting without a wait survived. A top-level
   * `const gpu = create(...)` does not count as held: once V8 optimizes the module's code (its
   * long loops are OSR-compiled), a variable with no later use is no GC root across an await.
   * tools/gpu/probes/instance-gc.mjs reproduces it in a few lines; device.test.ts checks the rule.
   */
  owners: { gpu: GPU; adapter: GPUAdapter };
  /** Frees the native instance (Node) so the process can exit. */
  destroy(): void;
}

let nodeGpu: GPU | undefined;
// The robustness the Node instance was created with (toggles belong to the instance, made once).
let nodeRobust = true;

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
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.Q_ROBUSTNESS;
    const robust = opts.robustness ?? env === 'on';
    nodeRobust = robust;
    const toggles = ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia', ...(robust ? [] : ['disable_robustness']), ...(opts.toggles ?? [])];
    const flags = opts.dawnFlags ?? [`enable-dawn-features=${toggles.join(',')}`];
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
    subgroupMatrixConfigs: device.features.has('chromium-experimental-subgroup-matrix') ? matrixConfigs(ai) : [],
    subgroupMinSize: (ai as { subgroupMinSize?: number } | undefined)?.subgroupMinSize ?? 0,
    subgroupMaxSize: (ai as { subgroupMaxSize?: number } | undefined)?.subgroupMaxSize ?? 0,
    timestamps: device.features.has('timestamp-query'),
    runtime,
    robustness: runtime === 'browser' || nodeRobust,
  };
  return {
    device,
    info,
    // The device does not keep these alive by itself (see RawDevice.owners).
    owners: { gpu, adapter },
    destroy() {
      device.destroy();
    },
  };
}

function matrixConfigs(ai: GPUAdapterInfo | undefined): SubgroupMatrixConfig[] {
  const list = (ai as { subgroupMatrixConfigs?: Iterable<Record<string, unknown>> } | undefined)?.subgroupMatrixConfigs ?? [];
  return [...list].map((c) => ({
    componentType: String(c.componentType),
    resultComponentType: String(c.resultComponentType),
    M: Number(c.M),
    N: Number(c.N),
    K: Number(c.K),
  }));
}

/**
 * Drops the module's cached Node WebGPU instance, so the next {@link openDevice} creates a fresh
 * one; devices already open keep theirs through {@link RawDevice.owners}.
 */
export function releaseNodeInstance(): void {
  nodeGpu = undefined;
}
