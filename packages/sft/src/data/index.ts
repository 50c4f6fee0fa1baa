export * from './tokenize-rows';
export * from './collate';
