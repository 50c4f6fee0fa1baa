export * from './check-op';
export * from './fixtures';
