/**
 * `qlora merge`: AutoPeftModelForCausalLM.from_pretrained(adapter) + merge_and_unload +
 * save_pretrained, as step 6 of the seed. The base is loaded in full precision, as the seed's
 * merge does; `--load-in-4bit` merges into the dequantized NF4 base the adapter was trained on.
 */
import { resolve } from 'node:path';
import { QLORA_BNB_CONFIG } from '@q/nf4';
import type { MergeSaveDtype } from '../config';
import { say, type CliIO } from '../run/io';
import { describeMerge, mergeAdapterFolder, saveMergedModel } from '../run/merge-step';

export interface MergeCommandOptions {
  base: string;
  adapter: string;
  out: string;
  dtype: MergeSaveDtype;
  tokenizer?: string;
  loadIn4bit?: boolean;
}

export async function runMerge(io: CliIO, o: MergeCommandOptions): Promise<string> {
  const { loaded, model: merged, report } = await mergeAdapterFolder(
    io,
    { path: o.base, tokenizer: o.tokenizer, quantizationConfig: o.loadIn4bit ? { ...QLORA_BNB_CONFIG, bnb4bitComputeDtype: 'float32' } : null },
    resolve(o.adapter),
    o.dtype,
    (peft) => say(io, `adapter: ${o.adapter} (${peft.layers.size} LoRA layers, r=${peft.peftConfig.r}, alpha=${peft.peftConfig.loraAlpha})`),
  );
  try {
    say(io, describeMerge(report, o.base));
    const out = resolve(o.out);
    await saveMergedModel(merged, out, o.dtype, loaded.saveTokenizer);
    say(io, `merged model (${o.dtype}): ${out}`);
    return out;
  } finally {
    merged.release();
  }
}
