export * from './communicator';
export * from './launch-env';
export * from './world';
export * from './shard';
export * from './grad-sync';
export * from './gpu-select';
