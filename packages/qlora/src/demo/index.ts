/**
 * @q/qlora/demo: what `npm run demo` runs, with no Node import, so a web page can do the demo's
 * job (examples/browser-finetune): the built-in demo's settings, the held-out split's seed and
 * size, and its scoring (greedy answers to the held-out questions, exact match, loss).
 * The package's index exports all of it too; this subpath keeps a browser bundle free of the CLI
 * and of node:fs.
 *
 * @example
 * ```ts
 * const ds = (await loadDataset(file, { split: 'train' })).shuffle({ seed: DATASET_SECTION_DEFAULTS.seed });
 * const { test } = ds.trainTestSplit({ testSize: BUILTIN_TEST_SIZE, seed: DATASET_SECTION_DEFAULTS.seed });
 * const r = await evaluateModel(model, tokenizer, [...test], { maxNewTokens: EVAL_SECTION_DEFAULTS.maxNewTokens });
 * ```
 */
export { BUILTIN_LORA, BUILTIN_QUANTIZATION, BUILTIN_TEST_SIZE, BUILTIN_TRAINING } from '../builtin/builtin-defaults';
export { DATASET_SECTION_DEFAULTS } from '../config/dataset-section';
export { EVAL_SECTION_DEFAULTS } from '../config/eval-section';
export { evaluateModel, exactMatchSamples, exactMatchScore, isExactMatch, type EvalResult, type EvalSample, type EvaluateOptions } from '../run/evaluate';
export { previewQuestions, questionText, type PreviewQuestion } from '../run/preview';
export { chatTemplateOf } from '../run/chat-format';
