/**
 * Step 6 of the seed: merge_and_unload, then save the merged model with its tokenizer. The merge
 * is into float16/bfloat16/float32 weights, never back into 4 bits (users.md #2), and the merged
 * model holds every tensor of the architecture (saveMerged refuses anything less).
 */
import { loadAdapter, type PeftModel } from '@q/lora';
import { mergeAndUnload, saveMerged, type MergeReport } from '@q/merge';
import type { CausalLM } from '@q/model';
import type { MergeSaveDtype } from '../config';
import { loadModel, type LoadedModel, type LoadModelOptions } from './load-model';
import type { CliIO } from './io';

export async function mergePeft(peft: PeftModel, dtype: MergeSaveDtype): Promise<{ model: CausalLM; report: MergeReport }> {
  return mergeAndUnload(peft, { dtype });
}

/**
 * AutoPeftModelForCausalLM.from_pretrained(adapterDir).merge_and_unload(): loads the base as
 * `base` says (in full precision unless it asks for 4 bits), applies the saved adapter and merges.
 * On failure nothing stays on the GPU.
 */
export async function mergeAdapterFolder(
  io: CliIO,
  base: LoadModelOptions,
  adapterDir: string,
  dtype: MergeSaveDtype,
  onAdapter?: (peft: PeftModel) => void,
): Promise<{ loaded: LoadedModel; model: CausalLM; report: MergeReport }> {
  const loaded = await loadModel(io, base);
  let owner: { release(): void } = loaded.model;
  try {
    const peft = await loadAdapter(loaded.model, adapterDir);
    owner = peft;
    onAdapter?.(peft);
    const { model, report } = await mergePeft(peft, dtype);
    return { loaded, model, report };
  } catch (e) {
    owner.release();
    throw e;
  }
}

/** One line saying what was merged into what. */
export function describeMerge(report: MergeReport, from?: string): string {
  const into = report.base === 'full-precision' ? `the full-precision base${from ? ` reloaded from ${from}` : ''}` : 'the dequantized 4-bit base';
  const rest = report.dequantizedLayers ? `; ${report.dequantizedLayers} projections without LoRA dequantized to ${report.dtype}` : '';
  return `merged ${report.layers} LoRA layers into ${into}, as ${report.dtype} weights${rest}`;
}

/** Writes `model` (config.json + safetensors in `dtype`) and the tokenizer files to `dir`. */
export async function saveMergedModel(model: CausalLM, dir: string, dtype: MergeSaveDtype, saveTokenizer: (dir: string) => Promise<void>): Promise<void> {
  // One folder, renamed in whole: weights, config and tokenizer appear together.
  await saveMerged(model, dir, { dtype, alsoWrite: saveTokenizer });
}
