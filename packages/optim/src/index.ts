export * from './config-index';
export * from './gpu-index';
