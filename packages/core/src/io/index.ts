// File formats of model loading, browser-safe: no Node module is imported here.
export * from './byte-source';
export * from './dtype-codecs';
export * from './safetensors-dtype';
export * from './safetensors-header';
export * from './safetensors-index';
export * from './safetensors-reader';
export * from './safetensors-shards';
export * from './safetensors-writer';
export * from './typed-array';
