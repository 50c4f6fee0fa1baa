/**
 * GPU buffers are not garbage-collected, so every tensor's storage comes from this pool and goes
 * back to it on release. Sizes are rounded to classes so a training step's buffers are reused by
 * the next step instead of being created again.
 */
export interface MemoryStats {
  /** Bytes held by live tensors (rounded to their size class). */
  liveBytes: number;
  /** Highest liveBytes since the last resetPeak(). */
  peakBytes: number;
  /** Bytes parked in the pool's free lists. */
  pooledBytes: number;
  liveBuffers: number;
}

// STORAGE | COPY_SRC | COPY_DST as numbers: the GPUBufferUsage global only exists once Node's
// WebGPU runtime has been loaded, which may be after this module is.
const USAGE = 0x80 | 0x04 | 0x08;

/** Size class: the next of 1, 1.25, 1.5, 1.75 times a power of two, at least 256 bytes. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const c = Math.ceil((p * f) / 256) * 256;
    if (c >= bytes) return c;
  }
  return Math.ceil((2 * p) / 256) * 256;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private stats: MemoryStats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, liveBuffers: 0 };

  constructor(private device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) this.stats.pooledBytes -= size;
    else buf = this.device.createBuffer({ size, usage: USAGE });
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    if (this.stats.liveBytes > this.stats.peakBytes) this.stats.peakBytes = this.stats.liveBytes;
    return buf;
  }

  release(buf: GPUBuffer): void {
    const size = buf.size;
    this.stats.liveBytes -= size;
    this.stats.liveBuffers--;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.stats.pooledBytes += size;
  }

  /** Destroys pooled (unused) buffers, returning their memory to the driver. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
  }

  memory(): MemoryStats {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes;
  }
}
