// Public API of the LoRA configuration (peft-compatible); re-exported from index.ts.
export * from './config';
