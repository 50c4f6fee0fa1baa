export * from './config-index';
