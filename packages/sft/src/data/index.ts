export * from './tokenize-rows';
export * from './collate';
export { packBfd } from './pack-bfd';
export { prepareExamples, type PrepareExamplesOptions } from './prepare-examples';
