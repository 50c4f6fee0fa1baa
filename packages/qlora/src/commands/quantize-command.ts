/**
 * `qlora quantize`: load a model folder, quantize its projections to NF4/FP4, and write a
 * pre-quantized '-bnb-4bit' folder (bitsandbytes' tensor layout, config.json with
 * quantization_config) that transformers + bitsandbytes, and @q, load without re-quantizing.
 */
import { resolve } from 'node:path';
import { AutoModelForCausalLM, saveQuantizedPretrained } from '@q/model';
import { terminalProgress } from '@q/sft';
import { validateBitsAndBytesConfig, type QuantType } from '@q/nf4';
import { note, say, type CliIO } from '../run/io';
import { copyTokenizerFiles } from '../run/tokenizer-files';

export interface QuantizeCommandOptions {
  model: string;
  out: string;
  quantType: QuantType;
  doubleQuant: boolean;
  blocksize?: number;
}

export async function runQuantize(io: CliIO, o: QuantizeCommandOptions): Promise<string> {
  const qc = validateBitsAndBytesConfig({
    loadIn4bit: true,
    bnb4bitQuantType: o.quantType,
    bnb4bitUseDoubleQuant: o.doubleQuant,
    ...(o.blocksize !== undefined ? { blocksize: o.blocksize } : {}),
  });
  note(io, `loading ${o.model} and quantizing to ${o.quantType}`);
  const bar = terminalProgress(io.stderr, 'quantize');
  // No tokenizer is needed here (a folder without one is fine); whatever tokenizer files exist are copied.
  const model = await AutoModelForCausalLM.fromPretrained(resolve(o.model), {
    quantizationConfig: qc as never,
    onProgress: (done, total) => bar.update(done, total, {}),
  }).finally(() => bar.done());
  try {
    const out = resolve(o.out);
    await saveQuantizedPretrained(model, out, qc as never);
    await copyTokenizerFiles(resolve(o.model), out);
    say(io, `${o.quantType}${o.doubleQuant ? ' (double quant)' : ''} checkpoint: ${out}`);
    return out;
  } finally {
    model.release();
  }
}
