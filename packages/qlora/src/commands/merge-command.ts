/**
 * `qlora merge`: AutoPeftModelForCausalLM.from_pretrained(adapter) + merge_and_unload +
 * save_pretrained, as step 6 of the seed. The base is loaded in full precision, as the seed's
 * merge does; `--load-in-4bit` merges into the dequantized NF4 base the adapter was trained on.
 */
import { resolve } from 'node:path';
import { loadModelConfig, lockDir, planModelMemory } from '@q/model';
import { checkInputDir, checkModelFits, checkOutputDir } from '../run/preflight';
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
  // Before the base is loaded: the adapter folder is complete and --out can be written.
  await checkInputDir(o.base, 'base model folder', ['config.json', ['model.safetensors', 'model.safetensors.index.json']]);
  await checkInputDir(o.adapter, 'adapter folder', ['adapter_config.json', 'adapter_model.safetensors']);
  const mcfg = await loadModelConfig(resolve(o.base));
  checkModelFits(mcfg, `${resolve(o.base)}/config.json`, !!o.loadIn4bit);
  const params = planModelMemory(mcfg).parameters;
  await checkOutputDir(o.out, '--out', params * (o.dtype === 'float32' ? 4 : 2) + 32 * 2 ** 20);
  const lock = await lockDir(resolve(o.out), 'qlora merge');
  try {
    return await mergeLocked(io, o);
  } finally {
    await lock.release();
  }
}

async function mergeLocked(io: CliIO, o: MergeCommandOptions): Promise<string> {
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
