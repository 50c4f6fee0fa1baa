import { describe, expect, it } from 'vitest';
import { ConfigError } from '@q/core';
import { detectMpiLaunch } from './launch-env';
import { microBatchesPerStep, shardMicroBatches } from './shard';
import { gpuSelectEnv, gpusOf } from './gpu-select';
import { singleProcess } from './communicator';

describe('detectMpiLaunch', () => {
  it('reads Open MPI\'s variables, and is null without a launcher', () => {
    expect(detectMpiLaunch({})).toBeNull();
    expect(detectMpiLaunch({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' })).toEqual({
      rank: 3, size: 4, localRank: 1, localSize: 2,
    });
    expect(detectMpiLaunch({ OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '1' })).toEqual({ rank: 0, size: 1, localRank: 0, localSize: 1 });
  });
  it('names the bad variable', () => {
    expect(() => detectMpiLaunch({ OMPI_COMM_WORLD_RANK: 'x', OMPI_COMM_WORLD_SIZE: '2' })).toThrow(/OMPI_COMM_WORLD_RANK/);
    expect(() => detectMpiLaunch({ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '2' })).toThrow(ConfigError);
  });
});

describe('shardMicroBatches', () => {
  it('covers the global step exactly once across ranks, in a single process\'s order', () => {
    for (const [size, acc, first, count] of [[2, 2, 0, 4], [3, 2, 6, 6], [4, 1, 8, 2], [2, 3, 12, 5]] as const) {
      expect(microBatchesPerStep(acc, size)).toBe(acc * size);
      const all = Array.from({ length: size }, (_, r) => shardMicroBatches(first, count, r, size)).flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: count }, (_, i) => first + i));
    }
    // A short last step leaves a rank without micro-batches.
    expect(shardMicroBatches(8, 2, 3, 4)).toEqual([]);
    expect(shardMicroBatches(0, 4, 1, 2)).toEqual([1, 3]);
  });
});

describe('GPU by local rank', () => {
  const nvidia = (bus: string) => ({ address: `0000:${bus}:00.0`, vendor: 0x10de, pciClass: 0x030200 });
  const bmc = { address: '0000:02:00.0', vendor: 0x1a03, pciClass: 0x030000 };
  it('takes the local rank-th GPU in PCI order and ignores BMC graphics', () => {
    const gpus = gpusOf([nvidia('c1'), bmc, nvidia('18'), { address: '0000:17:00.0', vendor: 0x15b3, pciClass: 0x020700 }]);
    expect(gpus.map((g) => g.address)).toEqual(['0000:18:00.0', '0000:c1:00.0']);
    expect(gpuSelectEnv(gpus, 1, {})).toEqual({ DRI_PRIME: 'pci-0000_c1_00_0', MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1' });
    expect(gpuSelectEnv(gpus, 2, {})?.DRI_PRIME).toBe('pci-0000_18_00_0');
  });
  it('leaves a single GPU, and a choice the user made, alone', () => {
    expect(gpuSelectEnv(gpusOf([nvidia('18'), bmc]), 1, {})).toBeNull();
    expect(gpuSelectEnv(gpusOf([nvidia('18'), nvidia('c1')]), 1, { DRI_PRIME: 'pci-0000_18_00_0' })).toBeNull();
    expect(gpuSelectEnv(gpusOf([nvidia('18'), nvidia('c1')]), 1, { MESA_VK_DEVICE_SELECT: '10de:2335!' })).toBeNull();
  });
});

describe('singleProcess', () => {
  it('is a world of one whose sums leave the buffer as it is', () => {
    const b = new Float32Array([1.5, -2]);
    singleProcess.allreduceSum(b);
    expect([...b]).toEqual([1.5, -2]);
    expect([singleProcess.rank, singleProcess.size]).toEqual([0, 1]);
  });
});
