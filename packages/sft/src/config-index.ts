// Public API of SFT configuration and datasets; re-exported from index.ts.
export * from './args';
export * from './dataset';
