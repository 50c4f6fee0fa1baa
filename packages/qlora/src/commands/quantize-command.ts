/**
 * `qlora quantize`: load a model folder, quantize its projections to NF4/FP4, and write a
 * pre-quantized '-bnb-4bit' folder (bitsandbytes' tensor layout, config.json with
 * quantization_config) that transformers + bitsandbytes, and @q, load without re-quantizing.
 */
import { resolve } from 'node:path';
import { AutoModelForCausalLM, loadModelConfig, lockDir, planModelMemory, saveQuantizedPretrained } from '@q/model';
import { checkInputDir, checkModelFits, checkOutputDir } from '../run/preflight';
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
  // Before loading: the model folder holds a model, and --out can be written with room to spare.
  await checkInputDir(o.model, 'model folder', ['config.json', ['model.safetensors', 'model.safetensors.index.json']]);
  const mcfg = await loadModelConfig(resolve(o.model));
  checkModelFits(mcfg, `${resolve(o.model)}/config.json`, false);
  await checkOutputDir(o.out, '--out', Math.ceil(planModelMemory(mcfg, { quantized: true }).gpuBytes * 1.1));
  const lock = await lockDir(resolve(o.out), 'qlora quantize');
  try {
    return await quantizeLocked(io, o, qc);
  } finally {
    await lock.release();
  }
}

async function quantizeLocked(io: CliIO, o: QuantizeCommandOptions, qc: ReturnType<typeof validateBitsAndBytesConfig>): Promise<string> {
  note(io, `loading ${o.model} and quantizing to ${o.quantType}`);
  const bar = terminalProgress(io.stderr, 'quantize');
  // No tokenizer is needed here (a folder without one is fine); whatever tokenizer files exist are copied.
  const model = await AutoModelForCausalLM.fromPretrained(resolve(o.model), {
    quantizationConfig: qc as never,
    onProgress: (done, total) => bar.update(done, total, {}),
  }).finally(() => bar.done());
  try {
    const out = resolve(o.out);
    await saveQuantizedPretrained(model, out, qc as never, { alsoWrite: (tmp) => copyTokenizerFiles(resolve(o.model), tmp) });
    say(io, `${o.quantType}${o.doubleQuant ? ' (double quant)' : ''} checkpoint: ${out}`);
    return out;
  } finally {
    model.release();
  }
}
