/**
 * transformers' AutoModelForCausalLM for @q: `fromPretrained(dir, { quantizationConfig })` and
 * `fromConfig(config, { seed })`, plus `savePretrained` for full models.
 */
import { getDevice, FormatError, type QDevice, type SafetensorsEntry } from '@q/core';
import { loadModelConfig, modelConfigToJson, type ModelConfig } from '../config';
import { openCheckpoint } from '../files';
import { buildCausalLM, memorySource, type LinearFactory, type TensorSource } from './load';
import { randomWeights } from './random-weights';
import type { CausalLM } from './causal-lm';

export interface FromPretrainedOptions {
  /**
   * BitsAndBytesConfig-like object: with `loadIn4bit`, the decoder's linear layers are quantized
   * to NF4/FP4 on load. Needs a 4-bit linear factory registered by @q/lora or @q/qlora
   * (`registerQuantizedLinear`), so @q/model itself stays free of the quantizer.
   */
  quantizationConfig?: Record<string, unknown> | null;
  dev?: QDevice;
  onProgress?: (done: number, total: number, name: string) => void;
}

type QuantFactoryMaker = (quantizationConfig: Record<string, unknown>, cfg: ModelConfig) => LinearFactory;
let quantFactory: QuantFactoryMaker | null = null;
type PrequantLoader = (dir: string, cfg: ModelConfig, o: FromPretrainedOptions) => Promise<CausalLM>;
let prequantLoader: PrequantLoader | null = null;

/** Lets the 4-bit package plug in its quantized linear layer without a dependency cycle. */
export function registerQuantizedLinear(maker: QuantFactoryMaker, loadPrequantized?: PrequantLoader): void {
  quantFactory = maker;
  if (loadPrequantized) prequantLoader = loadPrequantized;
}

function quantOptions(q: Record<string, unknown> | null | undefined, cfg: ModelConfig): LinearFactory | undefined {
  if (!q) return undefined;
  const on = q.loadIn4bit ?? q.load_in_4bit;
  if (!on) return undefined;
  if (!quantFactory) {
    throw new FormatError('quantizationConfig', 'loadIn4bit needs the NF4 layer: import "@q/qlora" (or "@q/lora") before loading');
  }
  return quantFactory(q, cfg);
}

export const AutoModelForCausalLM = {
  /**
   * Loads config.json and the safetensors weights of a Hugging Face model folder onto the GPU.
   *
   * @example
   * ```ts
   * const model = await AutoModelForCausalLM.fromPretrained('models/Qwen2.5-0.5B-Instruct', {
   *   quantizationConfig: { loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true },
   * });
   * ```
   */
  async fromPretrained(dir: string, o: FromPretrainedOptions = {}): Promise<CausalLM> {
    const cfg = await loadModelConfig(dir);
    const dev = o.dev ?? (await getDevice());
    if (cfg.quantizationConfig && (cfg.quantizationConfig.load_in_4bit || cfg.quantizationConfig._load_in_4bit)) {
      if (!prequantLoader) throw new FormatError(`${dir}/config.json`, 'this is a 4-bit (bitsandbytes) checkpoint: import "@q/qlora" (or "@q/lora") to load it');
      return prequantLoader(dir, cfg, { ...o, dev });
    }
    const ckpt = await openCheckpoint(dir);
    try {
      const src: TensorSource = {
        name: dir,
        has: (n) => ckpt.has(n),
        shape: (n) => ckpt.info(n).shape,
        readF32: (n) => ckpt.readF32(n),
      };
      return await buildCausalLM(cfg, src, { dev, linear: quantOptions(o.quantizationConfig, cfg), onProgress: o.onProgress });
    } finally {
      await ckpt.close();
    }
  },

  /**
   * A model with seeded random weights in the config's architecture (tests, demos, benchmarks).
   *
   * @example
   * ```ts
   * const model = await AutoModelForCausalLM.fromConfig(cfg, { seed: 0 });
   * ```
   */
  async fromConfig(cfg: ModelConfig, o: FromPretrainedOptions & { seed?: number; weights?: Record<string, SafetensorsEntry> } = {}): Promise<CausalLM> {
    const tensors = o.weights ?? randomWeights(cfg, o.seed ?? 0);
    const src = memorySource('random weights', tensors as Record<string, { shape: number[]; data: Float32Array }>);
    return buildCausalLM(cfg, src, { dev: o.dev ?? (await getDevice()), linear: quantOptions(o.quantizationConfig, cfg), onProgress: o.onProgress });
  },
};

/** config.json text for a full-precision save (no quantization_config). */
export function configJsonText(cfg: ModelConfig, torchDtype: 'float32' | 'float16' | 'bfloat16' = 'float32'): string {
  const json = modelConfigToJson(cfg, { quantizationConfig: null }) as Record<string, unknown>;
  json.torch_dtype = torchDtype;
  return `${JSON.stringify(json, null, 2)}\n`;
}
