/**
 * Averages the gradients of one optimizer step across ranks. Dawn has no GPU-to-GPU path, so the
 * gradients travel through host memory: every gradient is copied into one flat GPU buffer (one
 * readback instead of one per tensor), summed across ranks by the communicator (MPI_Allreduce in
 * place), written back and copied into each `.grad`.
 *
 * Why a sum is the average: every rank's loss is already divided by the label tokens of the whole
 * global step (summed across ranks first, as transformers' num_items_in_batch with
 * average_tokens_across_devices), so the sum of the ranks' gradients is the gradient of the mean
 * token loss over the global batch, the same as one process accumulating every micro-batch.
 */
// flat: [Σ numel(tensors)] f32 on the GPU, host: the same on the CPU
import { keep, zeros, type Tensor } from '@q/core';
import { empty } from '@q/core/kernel';
import type { Communicator } from './communicator';

export class GradientSync {
  private flat: Tensor | null = null;
  private host: Float32Array | null = null;
  /** Bytes each rank sent in its last all-reduce, and the seconds it took (host copy excluded). */
  last = { bytes: 0, allreduceSeconds: 0 };

  constructor(private readonly comm: Communicator) {}

  /** Sums a few numbers across ranks (the step's label tokens and tokens); f64 on the wire, so counts stay exact. */
  sum(values: number[]): number[] {
    if (this.comm.size === 1) return values;
    const f = new Float64Array(values);
    this.comm.allreduceSum64(f);
    return Array.from(f);
  }

  /**
   * Sums the gradients of `params` (a missing gradient counts as zeros, as for a rank with no
   * micro-batch at the end of an epoch) and the values of `extra` (e.g. the step's loss) across
   * ranks, in place. Every rank calls it with the same tensors in the same order.
   */
  async allreduce(params: Tensor[], extra: Tensor[] = []): Promise<void> {
    if (this.comm.size === 1) return;
    for (const p of params) if (!p.grad) p.grad = keep(zeros([...p.shape], { dev: p.dev }));
    const tensors = [...params.map((p) => p.grad!), ...extra];
    const total = tensors.reduce((a, t) => a + t.size, 0);
    if (!this.flat || this.flat.size !== total) {
      this.flat?.release();
      this.flat = keep(empty([total], 'f32', tensors[0]!.dev));
      this.host = new Float32Array(total);
    }
    const flat = this.flat;
    const dev = flat.dev;
    let off = 0;
    for (const t of tensors) {
      dev.copy(t.buffer, 0, flat.buffer, off * 4, t.size * 4);
      off += t.size;
    }
    const host = this.host!;
    host.set(new Float32Array(await dev.read(flat.buffer, 0, total * 4)));
    const t0 = performance.now();
    this.comm.allreduceSum(host);
    this.last = { bytes: total * 4, allreduceSeconds: (performance.now() - t0) / 1000 };
    dev.write(flat.buffer, 0, host);
    off = 0;
    for (const t of tensors) {
      dev.copy(flat.buffer, off * 4, t.buffer, 0, t.size * 4);
      off += t.size;
    }
  }

  release(): void {
    this.flat?.release();
    this.flat = null;
    this.host = null;
  }
}
