// Public API of the GPU optimizer (AdamW, gradient clipping); re-exported from index.ts.
export * from './adamw';
export * from './clip';
