/**
 * `qlora train --nproc N`: starts the same command under Open MPI's mpirun, N ranks on this host
 * (add hosts with --mpirun-args "--host a:4,b:4"). Each rank finds its place from the variables
 * mpirun sets (OMPI_COMM_WORLD_*); see @q/sft's distributed/ and docs/scale-out.md.
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { ValueError } from '@q/core';
import { detectMpiLaunch } from '@q/sft';
import type { CliIO } from './io';

/** The mpirun command line that runs `node <cli> train [config]` on `nproc` ranks. */
export function mpirunCommand(o: { nproc: number; cli: string; config?: string; mpirunArgs?: string; node?: string; mpirun?: string }): [string, string[]] {
  const extra = (o.mpirunArgs ?? '').split(/\s+/).filter(Boolean);
  return [o.mpirun ?? 'mpirun', ['-np', String(o.nproc), ...extra, o.node ?? process.execPath, o.cli, 'train', ...(o.config ? [o.config] : [])]];
}

/** Runs `qlora train` on `nproc` ranks under mpirun and resolves with mpirun's exit code. */
export async function launchMpi(io: CliIO, o: { nproc: number; cli: string; config?: string; mpirunArgs?: string }): Promise<number> {
  if (detectMpiLaunch()) throw new ValueError('--nproc: this process already runs under mpirun; give either --nproc or mpirun -np, not both');
  const [cmd, args] = mpirunCommand({ ...o, mpirun: process.env.Q_MPIRUN });
  io.stderr.write(`${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'inherit' });
    p.on('error', (e) =>
      reject(new ValueError(`--nproc: could not start ${cmd} (${e.message}); install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev, or bash scripts/setup-mpi.sh) or set Q_MPIRUN`)),
    );
    p.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Streams that drop everything: ranks other than 0 stay silent. */
export function quietIO(io: CliIO): CliIO {
  const sink = () => new Writable({ write: (_c, _e, done) => done() });
  return { stdout: sink(), stderr: sink(), stdin: io.stdin };
}
