export * from './sft-trainer';
export * from './checkpoint';
export * from './progress';
export * from './loss-plot';
export * from './nonfinite-guard';
export type { TrainerCallback, TrainerControl } from './callbacks';
