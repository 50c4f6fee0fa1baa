export * from './config-file';
export * from './sections';
export * from './model-section';
export * from './dataset-section';
export * from './merge-section';
export * from './preview-section';
export * from './eval-section';
export * from './train-config';
