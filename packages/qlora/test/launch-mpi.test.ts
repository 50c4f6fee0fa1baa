import { describe, expect, it } from 'vitest';
import { mpirunCommand } from '../src/run/launch-mpi';

describe('qlora train --nproc', () => {
  it('runs the same CLI under mpirun with N ranks and the extra arguments', () => {
    expect(mpirunCommand({ nproc: 4, cli: '/x/qlora.js', config: 'train.yaml', mpirunArgs: ' --host a:2,b:2  --oversubscribe', node: '/usr/bin/node' })).toEqual([
      'mpirun',
      ['-np', '4', '--host', 'a:2,b:2', '--oversubscribe', '/usr/bin/node', '/x/qlora.js', 'train', 'train.yaml'],
    ]);
    expect(mpirunCommand({ nproc: 2, cli: 'q', node: 'n', mpirun: '/opt/ompi/bin/mpirun' })).toEqual(['/opt/ompi/bin/mpirun', ['-np', '2', 'n', 'q', 'train']]);
  });
});
