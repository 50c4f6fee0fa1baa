export * from './check-op';
