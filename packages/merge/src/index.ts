export * from './merge-lora';
export * from './merge-in-place';
export * from './weighted-merge';
export * from './save-merged';
