/**
 * @q/qlora: the whole QLoRA pipeline in one import, as the seed tutorial uses transformers, peft,
 * bitsandbytes and trl together:
 *
 * ```ts
 * import { AutoModelForCausalLM, AutoTokenizer, getPeftModel, prepareModelForKbitTraining, SFTTrainer, mergeAndUnload, pipeline } from '@q/qlora';
 * ```
 *
 * Every package is re-exported whole. Where two packages export different things under one name,
 * a star export would silently drop both, so each clash is resolved here by name.
 */
export * from '@q/core';
export * from '@q/nf4';
export * from '@q/model';
export * from '@q/chat-template';
export * from '@q/lora';
export * from '@q/optim';
export * from '@q/sft';
export * from '@q/merge';

// NOTE: both @q/core (the autograd op on tensors) and @q/model (the host-side logits processor of
// generate) export `softmax`. The tensor op keeps the name; the logits one is renamed.
export { softmax } from '@q/core';
export { softmax as softmaxLogits } from '@q/model';
// Both @q/model (tokenizer.encode options) and @q/chat-template (the tokenizer interface a
// template needs) export an `EncodeOptions` type.
export type { EncodeOptions } from '@q/model';
export type { EncodeOptions as ChatEncodeOptions } from '@q/chat-template';

// The CLI's own building blocks, for scripts that want the same defaults.
export * from './config';
export * from './builtin';
export * from './commands';
export { buildProgram } from './cli/program';
export { processIO, type CliIO } from './run/io';
export { runTrain, type TrainSummary } from './run/train-run';
export { chatTemplateOf } from './run/chat-format';
export { evaluateModel, exactMatchSamples, isExactMatch, exactMatchScore, type EvalResult, type EvalSample, type EvaluateOptions } from './run/evaluate';
export { previewQuestions, questionText, type PreviewQuestion } from './run/preview';
