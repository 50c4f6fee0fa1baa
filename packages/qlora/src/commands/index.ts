export * from './generation-flags';
export * from './train-command';
export * from './merge-command';
export * from './generate-command';
export * from './chat-command';
export * from './quantize-command';
export * from './info-command';
export * from './eval-command';
