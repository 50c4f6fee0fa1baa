export * from './sft-trainer';
export * from './checkpoint';
export * from './progress';
export * from './loss-plot';
export type { TrainerCallback, TrainerControl } from './callbacks';
