export * from './config-index';
export * from './layers/lora-linear';
export * from './model/peft-model';
export * from './model/prepare-kbit';
export * from './model/adapter-files';
