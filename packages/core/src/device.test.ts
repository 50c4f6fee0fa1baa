// The rule at RawDevice.owners: a device keeps its Dawn instance alive by itself. Each test drops
// every other reference to the instance (the module's cache included), forces V8 to collect what
// it can, reuses the freed memory, and then waits on the queue. Breaking the rule makes this test
// process crash (segfault or a futex/mutex abort), as tools/gpu/probes/instance-gc.mjs shows.
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openDevice, releaseNodeInstance } from './device';
import { getDevice } from './runtime';
import { tensor } from './create';
import { matmul } from './ops/matmul';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function collect(): Promise<void> {
  for (let r = 0; r < 3; r++) {
    gc();
    // Finalizers of native objects run on a later turn of the event loop.
    await new Promise((res) => setTimeout(res, 10));
  }
  const churn: string[] = [];
  for (let i = 0; i < 2000; i++) churn.push(Buffer.alloc(16 + (i % 64)).toString('hex'));
}

describe('the Dawn instance outlives its devices', () => {
  it('a raw device works after the instance cache is dropped and V8 has collected', async () => {
    const raw = await openDevice();
    releaseNodeInstance();
    await collect();
    const d = raw.device;
    const buf = d.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    const rb = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    d.queue.writeBuffer(buf, 0, new Float32Array([1, 2, 3, 4]));
    await d.queue.onSubmittedWorkDone();
    const enc = d.createCommandEncoder();
    enc.copyBufferToBuffer(buf, 0, rb, 0, 16);
    d.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    expect([...new Float32Array(rb.getMappedRange().slice(0))]).toEqual([1, 2, 3, 4]);
    rb.unmap();
    raw.destroy();
  });

  it('the shared device computes after the same', async () => {
    const dev = await getDevice();
    releaseNodeInstance();
    await collect();
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const b = tensor([5, 6, 7, 8], [2, 2]);
    const c = matmul(a, b);
    expect([...(await c.read())]).toEqual([19, 22, 43, 50]);
    await dev.sync();
    [a, b, c].forEach((t) => t.release());
    dev.dispose();
  });
});

describe("Dawn's shader robustness", () => {
  // The toggle belongs to the instance: each case starts from a new one.
  it('is off by default in Node (Q_ROBUSTNESS=on keeps it) and kept when asked for', async () => {
    releaseNodeInstance();
    const kept = await openDevice({ robustness: true });
    expect(kept.info.robustness).toBe(true);
    kept.destroy();
    releaseNodeInstance();
    const dflt = await openDevice();
    expect(dflt.info.robustness).toBe(process.env.Q_ROBUSTNESS === 'on');
    dflt.destroy();
    releaseNodeInstance();
  });
});
