export {
  TRAINING_ARGUMENTS_DEFAULTS,
  TRAINING_ARGUMENTS_ALIASES,
  IGNORED_HF_KEYS,
  type TrainingArguments,
  type IntervalStrategy,
  type SaveStrategy,
} from './training-arguments';
export { validateTrainingArguments, type ValidateArgsOptions } from './validate-training-arguments';
export { SFT_CONFIG_DEFAULTS, validateSftConfig, type SFTConfig, type SftOptions } from './sft-config';
export { adamWFromArgs, scheduleFromArgs } from './from-args';
