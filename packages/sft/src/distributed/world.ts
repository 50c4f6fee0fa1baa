/**
 * The process's world: MPI when launched by mpirun (or `qlora train --nproc N`), else the
 * single-process world. MPI is initialised once, on first use, and finalised at process exit.
 */
import { singleProcess, type Communicator } from './communicator';
import { detectMpiLaunch, processEnv } from './launch-env';

let world: Promise<Communicator> | null = null;

/** The world size this process will join, known from the environment before MPI starts. */
export function worldSizeFromEnv(env: Record<string, string | undefined> = processEnv()): number {
  return detectMpiLaunch(env)?.size ?? 1;
}

/** The world this process belongs to (MPI_Init happens here, once). */
export function openWorld(): Promise<Communicator> {
  world ??= (async () => {
    const launch = detectMpiLaunch();
    if (!launch) return singleProcess;
    const { openMpiCommunicator } = await import('./mpi-communicator');
    const comm = await openMpiCommunicator(launch);
    // A rank that exits with an error ends the job (MPI_Abort); otherwise the other ranks would wait
    // forever in their next collective, or in MPI_Finalize.
    // Say why before MPI_Abort ends the job (Node's own report of the error can be lost with it).
    process.on('uncaughtExceptionMonitor', (e) => void process.stderr.write(`[q/sft] rank ${comm.rank}: ${(e as Error)?.stack ?? e}\n`));
    process.once('exit', (code) => (code === 0 ? comm.finalize() : comm.abort(code, `[q/sft] rank ${comm.rank} exited with code ${code}: ending the job`)));
    return comm;
  })();
  return world;
}
