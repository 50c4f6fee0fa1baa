export * from './tokenize-rows';
export * from './collate';
export { packBfd } from './pack-bfd';
export * from './prepare-examples';
