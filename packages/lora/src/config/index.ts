export {
  LORA_DEFAULTS,
  TASK_TYPES,
  TRAINABLE_INITS,
  validateLoraConfig,
  type LoraConfig,
  type LoraBias,
  type TaskType,
  type InitLoraWeights,
  type ValidateLoraOptions,
} from './lora-config';
export { loraConfigFromJson, loraConfigToJson, loraConfigToJsonString, PEFT_FORMAT_VERSION } from './peft-json';
export { matchesTargetModule, defaultTargetModules, type ModuleInfo } from './target-modules';
export { scaling, moduleLoraParams, patternKeyFor } from './scaling';
export { compilePythonRegex, pythonRegexSource } from './python-regex';
