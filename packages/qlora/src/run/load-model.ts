/**
 * Step 2 of the seed: AutoModelForCausalLM.from_pretrained(model, quantization_config=...) and
 * AutoTokenizer.from_pretrained(...), with a progress bar while tensors load (and quantize).
 */
import { resolve } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, type CausalLM } from '@q/model';
import { terminalProgress } from '@q/sft';
import { builtinModelDir, BUILTIN_MODEL_NAME } from '../builtin';
import { copyTokenizerFiles } from './tokenizer-files';
import { note, type CliIO } from './io';

export interface LoadedModel {
  model: CausalLM;
  tokenizer: AutoTokenizer;
  /** Writes the tokenizer's files next to a saved adapter or model. */
  saveTokenizer(dir: string): Promise<void>;
  /** Absolute model folder (the built-in model's is packages/qlora/builtin). */
  path: string | null;
  /** What to call the model in output. */
  name: string;
}

export interface LoadModelOptions {
  /** Model folder; null = the built-in model. */
  path: string | null;
  tokenizer?: string | null;
  quantizationConfig?: Record<string, unknown> | null;
  /** Ignored: kept so configs written for the random-initialised built-in model still load. */
  seed?: number;
}

/**
 * @example
 * ```ts
 * const { model, tokenizer } = await loadModel(io, { path: 'models/Qwen2.5-0.5B-Instruct', quantizationConfig: { loadIn4bit: true } });
 * ```
 */
export async function loadModel(io: CliIO, o: LoadModelOptions): Promise<LoadedModel> {
  const bar = terminalProgress(io.stderr, 'load');
  const onProgress = (done: number, total: number) => bar.update(done, total, {});
  const q = o.quantizationConfig ?? null;
  const bits = q && (q.loadIn4bit ?? q.load_in_4bit) ? ` in 4-bit (${String(q.bnb4bitQuantType ?? q.bnb_4bit_quant_type ?? 'fp4')}${(q.bnb4bitUseDoubleQuant ?? q.bnb_4bit_use_double_quant) ? ', double quant' : ''})` : '';
  const path = resolve(o.path ?? builtinModelDir());
  const name = o.path ?? BUILTIN_MODEL_NAME;
  note(io, `loading ${name}${bits}`);
  let model: CausalLM;
  try {
    model = await AutoModelForCausalLM.fromPretrained(path, { quantizationConfig: q, onProgress });
  } finally {
    bar.done();
  }
  const tokenizerDir = o.tokenizer ? resolve(o.tokenizer) : path;
  try {
    const tokenizer = await AutoTokenizer.fromPretrained(tokenizerDir);
    return { model, tokenizer, saveTokenizer: async (dir) => void (await copyTokenizerFiles(tokenizerDir, dir)), path, name };
  } catch (e) {
    model.release();
    throw e;
  }
}
