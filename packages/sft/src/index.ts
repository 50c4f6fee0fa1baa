export * from './config-index';
export * from './data';
export * from './trainer';
export * from './distributed';
