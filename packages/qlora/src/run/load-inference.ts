/**
 * A model ready to generate: a model folder (4-bit on request), optionally with a LoRA adapter on
 * top (PeftModel.from_pretrained), plus its tokenizer and generation_config.json.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadAdapter } from '@q/lora';
import { loadGenerationConfig, type AutoTokenizer, type CausalLM, type GenerationConfig } from '@q/model';
import { QLORA_BNB_CONFIG } from '@q/nf4';
import { note, type CliIO } from './io';
import { loadModel } from './load-model';

export interface InferenceOptions {
  model: string;
  adapter?: string;
  tokenizer?: string;
  /** Quantize the model to NF4 on load (as it was during QLoRA training). Default false. */
  loadIn4bit?: boolean;
}

export interface InferenceModel {
  model: CausalLM;
  tokenizer: AutoTokenizer;
  generationConfig: GenerationConfig | null;
  release(): void;
}

export async function loadForInference(io: CliIO, o: InferenceOptions): Promise<InferenceModel> {
  // An adapter saved by `qlora train` carries the tokenizer; a model folder usually does too.
  const adapterTok = o.adapter && existsSync(join(o.adapter, 'tokenizer.json')) ? o.adapter : undefined;
  const loaded = await loadModel(io, {
    path: o.model,
    tokenizer: o.tokenizer ?? (existsSync(join(o.model, 'tokenizer.json')) ? undefined : adapterTok),
    quantizationConfig: o.loadIn4bit ? { ...QLORA_BNB_CONFIG, bnb4bitComputeDtype: 'float32' } : null,
  });
  let release = () => loaded.model.release();
  try {
    if (o.adapter) {
      const peft = await loadAdapter(loaded.model, resolve(o.adapter));
      peft.eval();
      note(io, `adapter: ${o.adapter} (${peft.layers.size} LoRA layers, r=${peft.peftConfig.r})`);
      release = () => peft.release();
    }
    return { model: loaded.model, tokenizer: loaded.tokenizer, generationConfig: await loadGenerationConfig(resolve(o.model)), release };
  } catch (e) {
    release();
    throw e;
  }
}
