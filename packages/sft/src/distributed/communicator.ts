/**
 * The collective operations data-parallel training needs, behind one small interface: a rank and
 * a world size, an in-place f32 sum across ranks, a barrier and an abort. MPI (./mpi-communicator)
 * is the backend that runs everywhere, CPUs included; {@link singleProcess} is the world of one.
 * A second backend (NCCL on CUDA hosts, or a sharded ZeRO-style one) implements the same methods.
 */
export interface Communicator {
  /** This process's index in the world, 0 ≤ rank < size. Rank 0 writes logs and checkpoints. */
  readonly rank: number;
  /** Number of processes. */
  readonly size: number;
  /** Index among the processes of this host (picks the GPU when a host has several). */
  readonly localRank: number;
  /** Processes on this host. */
  readonly localSize: number;
  /** Backend name, for logs: 'mpi' or 'single'. */
  readonly backend: string;
  /** Sums `buf` element-wise across all ranks, in place (MPI_Allreduce with MPI_IN_PLACE, MPI_SUM). */
  allreduceSum(buf: Float32Array): void;
  /** The same for f64 (small buffers of counts that must stay exact). */
  allreduceSum64(buf: Float64Array): void;
  /** Returns once every rank has called it. */
  barrier(): void;
  /** Ends the whole job (every rank) with `code`, after printing `message` on this rank's stderr. */
  abort(code: number, message: string): never;
  /** Leaves the world cleanly (MPI_Finalize); no collective may follow. */
  finalize(): void;
}

/** The world of one process: collectives are identities. */
export const singleProcess: Communicator = Object.freeze({
  rank: 0,
  size: 1,
  localRank: 0,
  localSize: 1,
  backend: 'single',
  allreduceSum(): void {},
  allreduceSum64(): void {},
  barrier(): void {},
  abort(code: number, message: string): never {
    process.stderr.write(`${message}\n`);
    process.exit(code);
  },
  finalize(): void {},
});
