// Public API of the optimizer configuration and learning-rate schedules; re-exported from index.ts.
export * from './config';
export * from './schedulers';
export * from './amp';
