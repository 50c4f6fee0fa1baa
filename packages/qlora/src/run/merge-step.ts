/**
 * Step 6 of the seed: merge_and_unload, then save the merged model with its tokenizer. The merge
 * is into float16/bfloat16/float32 weights, never back into 4 bits (users.md #2).
 */
import { mergeAndUnload, saveMerged, type MergeReport } from '@q/merge';
import type { CausalLM } from '@q/model';
import type { PeftModel } from '@q/lora';
import type { MergeSaveDtype } from '../config';

export async function mergePeft(peft: PeftModel, dtype: MergeSaveDtype): Promise<{ model: CausalLM; report: MergeReport }> {
  return mergeAndUnload(peft, { dtype });
}

/** Writes `model` (config.json + safetensors in `dtype`) and the tokenizer files to `dir`. */
export async function saveMergedModel(model: CausalLM, dir: string, dtype: MergeSaveDtype, saveTokenizer: (dir: string) => Promise<void>): Promise<void> {
  // One folder, renamed in whole: weights, config and tokenizer appear together.
  await saveMerged(model, dir, { dtype, alsoWrite: saveTokenizer });
}
