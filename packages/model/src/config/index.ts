export * from './model-config';
export { loadModelConfig } from './load-model-config';
export { modelConfigToJson, type ModelConfigToJsonOptions } from './model-config-to-json';
export { parseModelConfig } from './parse-model-config';
export { ropeInverseFrequencies } from './rope';
export { validateModelConfig } from './validate-model-config';
export { planModelMemory, checkMemoryPlan, formatBytes, MemoryPlanError, type MemoryPlan } from './memory-plan';
