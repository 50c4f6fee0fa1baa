/**
 * Encodes work into command encoders and submits it in batches; only readbacks wait.
 * Caches pipelines by their WGSL source. Optionally times each kernel with timestamp queries.
 */
import { openDevice, releaseNodeInstance, type DeviceInfo, type DeviceOptions, type RawDevice } from './device';
import { BufferPool, type MemoryStats } from './pool';
import { DeviceError } from './errors';

const MAP_READ = 0x01;
const COPY_DST = 0x08;
const UNIFORM = 0x40;
const QUERY_RESOLVE = 0x200;
const COPY_SRC = 0x04;

const ARENA_BYTES = 64 * 1024;
const SLOT = 256; // minUniformBufferOffsetAlignment on every adapter we know
const MAX_DISPATCHES_PER_BATCH = 512;

export interface Binding {
  buffer: GPUBuffer;
  /** Read-only storage unless 'read_write'. */
  access?: 'read' | 'read_write';
  /** Byte offset of the binding inside the buffer; default 0. */
  offset?: number;
  size?: number;
}

export interface DispatchArgs {
  /** Kernel name, used in timings. */
  name: string;
  wgsl: string;
  /** Storage buffers in binding order (0..n-1). */
  bindings: Binding[];
  /** Uniform values, bound after the storage buffers when given. */
  uniforms?: ArrayBuffer;
  workgroups: [number, number?, number?];
}

export interface KernelTiming {
  name: string;
  calls: number;
  ms: number;
}

export class QDevice {
  readonly gpu: GPUDevice;
  readonly info: DeviceInfo;
  readonly pool: BufferPool;
  private pipelines = new Map<string, GPUComputePipeline>();
  private layouts = new Map<string, GPUBindGroupLayout>();
  private layoutKeys = new Map<GPUBindGroupLayout, string>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private arena: GPUBuffer;
  private arenaData = new Uint8Array(ARENA_BYTES);
  private arenaUsed = 0;
  private profiling: { set: GPUQuerySet; names: string[]; capacity: number } | null = null;
  private timings = new Map<string, KernelTiming>();
  private errors: string[] = [];
  private destroyed = false;

  constructor(
    // Held for the device's whole life: it keeps the Dawn instance alive (RawDevice.owners).
    private readonly raw: RawDevice,
  ) {
    this.gpu = raw.device;
    this.info = raw.info;
    this.pool = new BufferPool(this.gpu);
    this.arena = this.gpu.createBuffer({ size: ARENA_BYTES, usage: UNIFORM | COPY_DST });
    this.gpu.addEventListener?.('uncapturederror', (ev: Event) => {
      this.errors.push(String((ev as GPUUncapturedErrorEvent).error?.message ?? ev));
    });
  }

  // Explicit layouts: 'auto' would drop bindings a kernel variant happens not to use.
  private layout(bindings: Binding[], uniform: boolean): GPUBindGroupLayout {
    const key = bindings.map((b) => (b.access === 'read_write' ? 'w' : 'r')).join('') + (uniform ? 'u' : '');
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = bindings.map((b, i) => ({
        binding: i,
        visibility: 4, // GPUShaderStage.COMPUTE
        buffer: { type: b.access === 'read_write' ? 'storage' : 'read-only-storage' },
      }));
      // A dynamic offset lets one bind group serve every slot of the uniform arena.
      if (uniform) entries.push({ binding: bindings.length, visibility: 4, buffer: { type: 'uniform', hasDynamicOffset: true } });
      l = this.gpu.createBindGroupLayout({ entries });
      this.layouts.set(key, l);
      this.layoutKeys.set(l, key);
    }
    return l;
  }

  /** Compiles (once) and returns the pipeline for a WGSL source. */
  pipeline(wgsl: string, name: string, layout: GPUBindGroupLayout): GPUComputePipeline {
    let p = this.pipelines.get(wgsl);
    if (!p) {
      const module = this.gpu.createShaderModule({ code: wgsl, label: name });
      p = this.gpu.createComputePipeline({
        layout: this.gpu.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
        label: name,
      });
      this.pipelines.set(wgsl, p);
    }
    return p;
  }

  // Bind groups are cached by the buffers they bind: the pool hands the same buffers back step
  // after step, so decoding and training loops mostly reuse them instead of creating hundreds a step.
  private groups = new Map<string, GPUBindGroup>();
  /** Bind-group cache hits and misses (dispatch overhead diagnostics). */
  readonly groupStats = { hits: 0, misses: 0 };
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private bindGroup(layout: GPUBindGroupLayout, bindings: Binding[], uniformSize: number): GPUBindGroup {
    let key = `${this.layoutKeys.get(layout)}|${uniformSize}`;
    for (const b of bindings) {
      let id = this.bufferIds.get(b.buffer);
      if (id === undefined) this.bufferIds.set(b.buffer, (id = this.nextBufferId++));
      key += `|${id}:${b.offset ?? 0}:${b.size ?? -1}`;
    }
    let g = this.groups.get(key);
    if (g) this.groupStats.hits++;
    else {
      this.groupStats.misses++;
      const entries: GPUBindGroupEntry[] = bindings.map((b, i) => ({
        binding: i,
        resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size },
      }));
      if (uniformSize) entries.push({ binding: bindings.length, resource: { buffer: this.arena, offset: 0, size: uniformSize } });
      g = this.gpu.createBindGroup({ layout, entries });
      if (this.groups.size >= 16384) this.groups.clear();
      this.groups.set(key, g);
    }
    return g;
  }

  /** Records one dispatch into the current batch. */
  dispatch(args: DispatchArgs): void {
    if (this.destroyed) throw new DeviceError('device was disposed');
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new DeviceError(`${args.name}: dispatch ${x}x${y}x${z} exceeds ${max} workgroups per dimension`);
    const uniformBytes = args.uniforms ? Math.ceil(args.uniforms.byteLength / SLOT) * SLOT : 0;
    if (this.arenaUsed + uniformBytes > ARENA_BYTES || this.dispatches >= MAX_DISPATCHES_PER_BATCH) this.flush();
    const layout = this.layout(args.bindings, !!args.uniforms);
    const pipeline = this.pipeline(args.wgsl, args.name, layout);
    let offset = 0;
    if (args.uniforms) {
      offset = this.arenaUsed;
      this.arenaData.set(new Uint8Array(args.uniforms), offset);
      this.arenaUsed += uniformBytes;
    }
    const bindGroup = this.bindGroup(layout, args.bindings, args.uniforms?.byteLength ?? 0);
    const pass = this.computePass(args.name);
    pass.setPipeline(pipeline);
    if (args.uniforms) pass.setBindGroup(0, bindGroup, [offset]);
    else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiling) this.endPass();
    this.dispatches++;
  }

  private computePass(name: string): GPUComputePassEncoder {
    this.encoder ??= this.gpu.createCommandEncoder();
    if (this.profiling) {
      const p = this.profiling;
      if (p.names.length * 2 + 2 > p.capacity) this.flush();
      this.encoder ??= this.gpu.createCommandEncoder();
      const i = p.names.length;
      p.names.push(name);
      this.pass = this.encoder.beginComputePass({
        timestampWrites: { querySet: p.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      return this.pass;
    }
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Copies between buffers in queue order with the recorded dispatches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.encoder ??= this.gpu.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.dispatches++;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.arenaUsed > 0) this.gpu.queue.writeBuffer(this.arena, 0, this.arenaData, 0, this.arenaUsed);
    let resolve: { buf: GPUBuffer; names: string[] } | null = null;
    if (this.profiling && this.profiling.names.length > 0) {
      const n = this.profiling.names.length * 2;
      const buf = this.gpu.createBuffer({ size: n * 8, usage: QUERY_RESOLVE | COPY_SRC });
      this.encoder.resolveQuerySet(this.profiling.set, 0, n, buf, 0);
      resolve = { buf, names: this.profiling.names };
      this.profiling.names = [];
    }
    this.gpu.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.arenaUsed = 0;
    this.dispatches = 0;
    if (resolve) void this.collectTimings(resolve.buf, resolve.names);
  }

  /** Writes host data into a buffer, after all recorded work that may still read its old content. */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.flush();
    this.gpu.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Reads bytes back; this is where the host waits for the GPU. */
  async read(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.gpu.createBuffer({ size, usage: MAP_READ | COPY_DST });
    this.copy(buffer, offset, staging, 0, size);
    this.flush();
    await staging.mapAsync(MAP_READ);
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    this.throwErrors();
    return out;
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.gpu.queue.onSubmittedWorkDone();
    this.throwErrors();
  }

  private throwErrors(): void {
    if (this.errors.length) {
      const msg = this.errors.splice(0).join('\n');
      throw new DeviceError(`WebGPU error: ${msg}`);
    }
  }

  /** Starts timing every kernel with timestamp queries (one compute pass per dispatch). */
  startProfiling(): boolean {
    if (!this.info.timestamps) return false;
    this.flush();
    const capacity = 4096;
    this.profiling = { set: this.gpu.createQuerySet({ type: 'timestamp', count: capacity }), names: [], capacity };
    this.timings.clear();
    return true;
  }

  /** Stops timing and returns the totals per kernel name, slowest first. */
  async stopProfiling(): Promise<KernelTiming[]> {
    if (!this.profiling) return [];
    this.flush();
    await this.sync();
    await Promise.all(this.pendingTimings);
    this.pendingTimings = [];
    this.profiling.set.destroy();
    this.profiling = null;
    return [...this.timings.values()].sort((a, b) => b.ms - a.ms);
  }

  private pendingTimings: Promise<void>[] = [];
  private collectTimings(buf: GPUBuffer, names: string[]): Promise<void> {
    const p = (async () => {
      const data = new BigUint64Array(await this.read(buf, 0, names.length * 16));
      buf.destroy();
      names.forEach((name, i) => {
        const ns = Number(data[2 * i + 1]! - data[2 * i]!);
        const t = this.timings.get(name) ?? { name, calls: 0, ms: 0 };
        t.calls++;
        t.ms += ns / 1e6;
        this.timings.set(name, t);
      });
    })();
    this.pendingTimings.push(p);
    return p;
  }

  memory(): MemoryStats {
    return this.pool.memory();
  }

  /** Releases every GPU resource and the native instance, so Node can exit. */
  dispose(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    this.pool.trim();
    this.arena.destroy();
    this.raw.destroy();
    if (current === this) {
      current = null;
      pending = null;
    }
    releaseNodeInstance();
  }

  get disposed(): boolean {
    return this.destroyed;
  }
}

let current: QDevice | null = null;
let pending: Promise<QDevice> | null = null;

/**
 * The shared device: opened on first call, with the adapter's features and limits.
 *
 * @example
 * ```ts
 * const dev = await getDevice();
 * console.log(dev.info.description, dev.info.f16);
 * ```
 */
export function getDevice(opts: DeviceOptions = {}): Promise<QDevice> {
  if (current) return Promise.resolve(current);
  pending ??= openDevice(opts).then((raw) => (current = new QDevice(raw)));
  return pending;
}

/** The device opened by {@link getDevice}; throws if none is open yet. */
export function device(): QDevice {
  if (!current) throw new DeviceError('no device: await getDevice() first');
  return current;
}
