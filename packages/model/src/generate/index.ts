export {
  GENERATION_DEFAULTS, loadGenerationConfig, parseGenerationConfig, resolveGenerationConfig,
  type GenerationConfig, type ResolvedGenerationConfig,
} from './generation-config';
export { processLogits, repetitionPenalty, softmax, temperature, topK, topP } from './logits-processors';
export { argmax, sample } from './sampling';
export { completesStopString, IncrementalDecoder, type TokenDecoder } from './stop-strings';
export { inferAttentionMask, leftPad, type LeftPadded } from './prompts';
export {
  generate, generateWithDetails,
  type FinishReason, type GenerateOptions, type GenerateOutput, type StreamEvent, type Streamer,
} from './generate';
export { generateStream } from './stream';
export { generateContinuous, type ContinuousOutput } from './continuous';
export {
  pipeline, TEXT_GENERATION_DEFAULTS,
  type ChatTemplateFn, type PipelineChatMessage, type PipelineTokenizer, type TextGenerationCallOptions,
  type TextGenerationInput, type TextGenerationOutput, type TextGenerationPipeline, type TextGenerationPipelineOptions,
} from './pipeline';
