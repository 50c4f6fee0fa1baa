export { atomicWriteFile, atomicWriteWith } from './atomic-write';
export { openCheckpoint, type Checkpoint } from './checkpoint';
export { fileSource, type FileSource } from './file-source';
export { pathExists, readJsonFile } from './read-json-file';
export { nodeModules, processId, useFileSystem } from './node-modules';
