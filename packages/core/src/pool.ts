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
  // Free lists are kept sorted by buffer id, highest first, and acquire takes the lowest: which
  // buffer a tensor gets then depends only on which buffers are free, not on the order they were
  // released in. A training step allocates the same sizes with the same buffers free every step,
  // so it gets the same buffers every step and the runtime's bind groups (cached by buffer) are
  // reused instead of created again (LIFO order shuffled them: a quarter were new each step).
  private free = new Map<number, GPUBuffer[]>();
  private ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private stats: MemoryStats = { liveBytes: 0, peakBytes: 0, pooledBytes: 0, liveBuffers: 0 };

  constructor(private device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) this.stats.pooledBytes -= size;
    else {
      buf = this.device.createBuffer({ size, usage: USAGE });
      this.ids.set(buf, this.nextId++);
    }
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
    // Insert keeping ids in descending order (binary search; the lists are short).
    const id = this.ids.get(buf) ?? 0;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.ids.get(list[mid]!) ?? 0) > id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buf);
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
