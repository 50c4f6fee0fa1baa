/**
 * The MPI backend of {@link Communicator}: Open MPI's C library called through koffi (an FFI, an
 * optional dependency of @q/sft), loaded only when a job runs under mpirun, so single-process users
 * never need libmpi or koffi.
 *
 * Open MPI's handles are addresses of exported globals (MPI_COMM_WORLD is &ompi_mpi_comm_world,
 * MPI_FLOAT &ompi_mpi_float, MPI_DOUBLE &ompi_mpi_double, MPI_SUM &ompi_mpi_op_sum) and MPI_IN_PLACE is (void *)1; those are
 * part of its ABI since 1.x and unchanged in 5.x. MPICH's integer handles differ and are not wired.
 */
import { DeviceError } from '@q/core';
import type { Communicator } from './communicator';
import type { MpiLaunch } from './launch-env';

/** Sonames tried in order; `Q_LIBMPI` (a path) goes first when set. */
const LIBMPI = ['libmpi.so.40', 'libmpi.so', 'libmpi.40.dylib', 'libmpi.dylib'];
/** MPI's count is a C int: larger buffers are reduced in chunks. */
const MAX_COUNT = 1 << 30;
const MPI_IN_PLACE = 1;

interface Koffi {
  load(path: string, o?: { global?: boolean }): KoffiLib;
  opaque(): unknown;
}
interface KoffiLib {
  func(proto: string): (...args: unknown[]) => number;
  symbol(name: string, type: unknown): unknown;
}

async function loadKoffi(): Promise<Koffi> {
  // A variable specifier keeps bundlers from pulling the native addon into browser builds.
  const specifier = 'koffi';
  try {
    const m = (await import(/* @vite-ignore */ specifier)) as { default?: Koffi } & Koffi;
    return m.default ?? m;
  } catch (e) {
    throw new DeviceError(`data-parallel training under MPI needs the 'koffi' package (an optional dependency of @q/sft): npm install koffi (${(e as Error).message})`);
  }
}

function loadLibmpi(koffi: Koffi): KoffiLib {
  const names = process.env.Q_LIBMPI ? [process.env.Q_LIBMPI, ...LIBMPI] : LIBMPI;
  const errors: string[] = [];
  for (const n of names) {
    try {
      // global: Open MPI's plugins (mca_*.so) resolve their symbols against libmpi's.
      return koffi.load(n, { global: true });
    } catch (e) {
      errors.push(`${n}: ${(e as Error).message}`);
    }
  }
  throw new DeviceError(
    `could not load Open MPI's libmpi (${errors.join('; ')}). Install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), or set Q_LIBMPI to the library's path`,
  );
}

class MpiCommunicator implements Communicator {
  readonly backend = 'mpi';
  private finalized = false;
  constructor(
    readonly rank: number,
    readonly size: number,
    readonly localRank: number,
    readonly localSize: number,
    private readonly fn: {
      allreduce: (send: number, recv: Float32Array | Float64Array, count: number, dtype: unknown, op: unknown, comm: unknown) => number;
      barrier: (comm: unknown) => number;
      abort: (comm: unknown, code: number) => number;
      finalize: () => number;
    },
    private readonly h: { world: unknown; float: unknown; double: unknown; sum: unknown },
  ) {}

  allreduceSum(buf: Float32Array): void {
    this.reduce(buf, this.h.float);
  }

  allreduceSum64(buf: Float64Array): void {
    this.reduce(buf, this.h.double);
  }

  private reduce(buf: Float32Array | Float64Array, dtype: unknown): void {
    for (let off = 0; off < buf.length; off += MAX_COUNT) {
      const part = buf.subarray(off, Math.min(buf.length, off + MAX_COUNT));
      const rc = this.fn.allreduce(MPI_IN_PLACE, part, part.length, dtype, this.h.sum, this.h.world);
      if (rc !== 0) this.abort(1, `[q/sft] rank ${this.rank}: MPI_Allreduce failed with error ${rc}`);
    }
  }

  barrier(): void {
    const rc = this.fn.barrier(this.h.world);
    if (rc !== 0) this.abort(1, `[q/sft] rank ${this.rank}: MPI_Barrier failed with error ${rc}`);
  }

  abort(code: number, message: string): never {
    process.stderr.write(`${message}\n`);
    // MPI_Abort makes mpirun end every rank; it does not return.
    this.fn.abort(this.h.world, code);
    process.exit(code);
  }

  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.fn.finalize();
  }
}

/** Initialises MPI (MPI_Init) and returns the world communicator. Call once per process. */
export async function openMpiCommunicator(launch: MpiLaunch): Promise<Communicator> {
  const koffi = await loadKoffi();
  const lib = loadLibmpi(koffi);
  const init = lib.func('int MPI_Init(void *argc, void *argv)');
  const commRank = lib.func('int MPI_Comm_rank(void *comm, _Out_ int *rank)');
  const commSize = lib.func('int MPI_Comm_size(void *comm, _Out_ int *size)');
  const fn = {
    allreduce: lib.func('int MPI_Allreduce(intptr_t sendbuf, _Inout_ void *recvbuf, int count, void *datatype, void *op, void *comm)'),
    barrier: lib.func('int MPI_Barrier(void *comm)'),
    abort: lib.func('int MPI_Abort(void *comm, int errorcode)'),
    finalize: lib.func('int MPI_Finalize()'),
  };
  const opaque = koffi.opaque();
  const h = {
    world: lib.symbol('ompi_mpi_comm_world', opaque),
    float: lib.symbol('ompi_mpi_float', opaque),
    double: lib.symbol('ompi_mpi_double', opaque),
    sum: lib.symbol('ompi_mpi_op_sum', opaque),
  };
  const rc = init(null, null);
  if (rc !== 0) throw new DeviceError(`MPI_Init failed with error ${rc}`);
  const r = [0];
  const s = [0];
  commRank(h.world, r);
  commSize(h.world, s);
  const comm = new MpiCommunicator(r[0]!, s[0]!, launch.localRank, launch.localSize, fn as never, h);
  if (comm.rank !== launch.rank || comm.size !== launch.size) {
    comm.abort(1, `[q/sft] MPI says rank ${comm.rank} of ${comm.size}, the launcher's environment rank ${launch.rank} of ${launch.size}`);
  }
  return comm;
}
