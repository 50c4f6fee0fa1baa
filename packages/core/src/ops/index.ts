export * from './elementwise';
export * from './reduce';
export * from './expand';
export * from './matmul';
