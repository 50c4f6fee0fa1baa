export { AutoTokenizer, type DecodeOptions, type EncodeOptions } from './auto-tokenizer';
export { padBatch, type BatchEncoding, type BatchOptions, type BatchRow } from './pad-batch';
export { alignOffsets, type TokenPiece } from './offsets';
export { readTokenizerSettings, type TokenizerSettings } from './special-tokens';
