/**
 * Whether this process was started by an MPI launcher, read from the environment the launcher
 * sets: Open MPI's OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK / _LOCAL_SIZE (mpirun, mpiexec,
 * and `qlora train --nproc N`, which runs mpirun).
 */
import { ConfigError } from '@q/core';

export interface MpiLaunch {
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
}

function int(env: Record<string, string | undefined>, name: string): number | null {
  const v = env[name];
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(name, 'a non-negative integer', v, 'MPI launch environment');
  return n;
}

/** The process's environment; empty in a browser, where no launcher exists. */
export function processEnv(): Record<string, string | undefined> {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
}

/** The launch this process belongs to, or null when it runs alone (no MPI launcher). */
export function detectMpiLaunch(env: Record<string, string | undefined> = processEnv()): MpiLaunch | null {
  const rank = int(env, 'OMPI_COMM_WORLD_RANK');
  const size = int(env, 'OMPI_COMM_WORLD_SIZE');
  if (rank === null || size === null) return null;
  if (size < 1 || rank >= size) throw new ConfigError('OMPI_COMM_WORLD_RANK', `a rank below OMPI_COMM_WORLD_SIZE (${size})`, rank, 'MPI launch environment');
  const localRank = int(env, 'OMPI_COMM_WORLD_LOCAL_RANK') ?? 0;
  const localSize = int(env, 'OMPI_COMM_WORLD_LOCAL_SIZE') ?? 1;
  return { rank, size, localRank, localSize };
}
