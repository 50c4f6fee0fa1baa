export { atomicWriteFile, atomicWriteWith } from './atomic-write';
export { openCheckpoint, type Checkpoint } from './checkpoint';
export { fileSource, type FileSource } from './file-source';
export { pathExists, readJsonFile } from './read-json-file';
export { nodeModules, processId, useFileSystem } from './node-modules';
export { writeFolderAtomic, removeFolderAtomic, recoverFolders, recoverFolder, pidAlive, type AtomicFolderOptions } from './atomic-folder';
export { lockDir, LockedError, LOCK_FILE, type DirLock, type LockInfo } from './dir-lock';
