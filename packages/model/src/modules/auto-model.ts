/**
 * transformers' AutoModelForCausalLM for @q: `fromPretrained(dir, { quantizationConfig })` and
 * `fromConfig(config, { seed })`, plus `savePretrained` for full models.
 */
import { ConfigError, getDevice, normalizeKeys, type QDevice, type SafetensorsEntry } from '@q/core';
import { validateBitsAndBytesConfig } from '@q/nf4';
import { checkMemoryPlan, loadModelConfig, modelConfigToJson, type ModelConfig } from '../config';
import { openCheckpoint } from '../files';
import { FormatError } from '@q/core';
import { checkpointLayout } from './random-weights';
import { buildCausalLM, memorySource, type LinearFactory, type TensorSource } from './load';
import { randomWeights } from './random-weights';
import { quantizingLinear, bnbLinear } from './quant-linear';
import type { CausalLM } from './causal-lm';
import { loadGenerationConfig } from '../generate/generation-config';

export interface FromPretrainedOptions {
  /**
   * BitsAndBytesConfig (camelCase or snake_case): with `loadIn4bit`, the decoder's linear layers
   * are quantized to NF4/FP4 on load; embeddings, norms and lm_head stay in full precision, as
   * bitsandbytes leaves them.
   */
  quantizationConfig?: Record<string, unknown> | null;
  /**
   * Storage and compute dtype of the dense tensors, as transformers' `torch_dtype`/`dtype`:
   * 'float16' halves the model's memory and the bytes each decoded token reads (needs shader-f16).
   * 4-bit projections are unaffected. Default 'float32'.
   */
  dtype?: 'float32' | 'float16';
  dev?: QDevice;
  onProgress?: (done: number, total: number, name: string) => void;
}

async function hostMemoryBytes(): Promise<number> {
  try {
    const os = (await import(/* @vite-ignore */ 'node:' + 'os')) as typeof import('node:os');
    return os.totalmem();
  } catch {
    return Infinity; // a browser does not say; the GPU's buffer limit still applies
  }
}

/** Refuses a config whose weights cannot fit, before any tensor is allocated. */
async function planOrRefuse(cfg: ModelConfig, dev: QDevice, q: Record<string, unknown> | null | undefined, source: string): Promise<void> {
  const quantized = !!(q && (q.loadIn4bit ?? q.load_in_4bit)) || !!(cfg.quantizationConfig && (cfg.quantizationConfig.load_in_4bit === true || cfg.quantizationConfig._load_in_4bit === true));
  checkMemoryPlan(cfg, { quantized, hostBytes: await hostMemoryBytes(), maxBufferBytes: dev.info.limits.maxBufferSize, source });
}

const PRETRAINED_KEYS = ['quantizationConfig', 'dtype', 'dev', 'onProgress'];

/**
 * Unknown option keys are refused with a suggestion (`{ bnb4bitUseDoubleQuant: true }` belongs in
 * quantizationConfig), and a quantizationConfig is checked even when it does not load in 4-bit.
 */
function checkOptions<T>(o: T, known: string[], source: string): T {
  const norm = normalizeKeys(o ?? {}, known, source) as T & { quantizationConfig?: Record<string, unknown> | null };
  if (norm.quantizationConfig != null) validateBitsAndBytesConfig(norm.quantizationConfig);
  return norm;
}

function storage(o: FromPretrainedOptions, dev: QDevice, quantized: boolean): 'f32' | 'f16' {
  const d = o.dtype ?? 'float32';
  // NOTE: the 4-bit kernels take f32 activations; an f16 model around them is not wired up yet.
  if (d === 'float16' && quantized) throw new ConfigError('dtype', "'float32' with 4-bit weights (float16 around NF4 layers is not supported yet)", d, 'fromPretrained');
  if (d !== 'float32' && d !== 'float16') throw new ConfigError('dtype', "'float32' or 'float16'", d, 'fromPretrained');
  if (d === 'float16' && !dev.info.f16) throw new ConfigError('dtype', "'float32' (this adapter has no shader-f16)", d, 'fromPretrained');
  return d === 'float16' ? 'f16' : 'f32';
}

function quantOptions(q: Record<string, unknown> | null | undefined): LinearFactory | undefined {
  if (!q) return undefined;
  if (!(q.loadIn4bit ?? q.load_in_4bit)) return undefined;
  return quantizingLinear(q);
}

/**
 * Tensors of the checkpoint that this config does not use (num_hidden_layers set lower than the
 * checkpoint has, another architecture's names) are refused: loading them silently would give a
 * different model than the checkpoint holds. transformers only warns; we say which and stop.
 * Ignored as transformers ignores them: lm_head.weight of a tied model, rotary inv_freq buffers.
 */
function refuseUnusedTensors(cfg: ModelConfig, names: string[], prequantized: boolean, dir: string): void {
  const used = new Set(checkpointLayout(cfg).map(([n]) => n));
  const unused = names.filter((n) => {
    if (used.has(n) || (n === 'lm_head.weight' && cfg.tieWordEmbeddings) || n.endsWith('rotary_emb.inv_freq')) return false;
    // bitsandbytes' quant state rides beside each 4-bit weight: `<name>.weight.absmax`, ...
    if (prequantized) {
      const m = /^(.*_proj\.weight)\.[a-z_.]+(__(nf4|fp4))?$/.exec(n);
      if (m && used.has(m[1]!)) return false;
    }
    return true;
  });
  if (unused.length) {
    throw new FormatError(
      dir,
      `${unused.length} tensor(s) of the checkpoint are not used by config.json (${cfg.numHiddenLayers} layers): ${unused.slice(0, 4).map((n) => `"${n}"`).join(', ')}${unused.length > 4 ? ', ...' : ''}; does config.json belong to these weights?`,
    );
  }
}

export const AutoModelForCausalLM = {
  /**
   * Loads config.json and the safetensors weights of a Hugging Face model folder onto the GPU;
   * generation_config.json, when present, becomes `model.generationConfig` (generate's defaults).
   *
   * @example
   * ```ts
   * const model = await AutoModelForCausalLM.fromPretrained('models/Qwen2.5-0.5B-Instruct', {
   *   quantizationConfig: { loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true },
   * });
   * ```
   */
  async fromPretrained(dir: string, opts: FromPretrainedOptions = {}): Promise<CausalLM> {
    const o = checkOptions(opts, PRETRAINED_KEYS, 'fromPretrained');
    const cfg = await loadModelConfig(dir);
    const dev = o.dev ?? (await getDevice());
    await planOrRefuse(cfg, dev, o.quantizationConfig, `${dir}/config.json`);
    const ckpt = await openCheckpoint(dir);
    const qc = cfg.quantizationConfig;
    const prequantized = !!qc && (qc.load_in_4bit === true || qc._load_in_4bit === true) && ckpt.names().some((n) => n.includes('.quant_state.bitsandbytes__'));
    try {
      const src: TensorSource = {
        name: dir,
        has: (n) => ckpt.has(n),
        shape: (n) => ckpt.info(n).shape,
        readF32: (n) => ckpt.readF32(n),
      };
      // A '-bnb-4bit' checkpoint is loaded as it is; its 4-bit weights are not in the dense layout.
      const linear = prequantized
        ? bnbLinear(async (n) => (ckpt.has(n) ? { dtype: ckpt.info(n).dtype as never, shape: ckpt.info(n).shape, data: await ckpt.readBytes(n) } : null), dir)
        : quantOptions(o.quantizationConfig);
      const checkShape = prequantized ? (n: string) => !/_proj\.weight$/.test(n) : () => true;
      refuseUnusedTensors(cfg, ckpt.names(), prequantized, dir);
      const model = await buildCausalLM(cfg, src, { dev, linear, onProgress: o.onProgress, checkShape, dtype: storage(o, dev, !!linear) });
      try {
        model.generationConfig = await loadGenerationConfig(dir);
      } catch (e) {
        model.release();
        throw e;
      }
      return model;
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
  async fromConfig(cfg: ModelConfig, opts: FromPretrainedOptions & { seed?: number; weights?: Record<string, SafetensorsEntry> } = {}): Promise<CausalLM> {
    const o = checkOptions(opts, [...PRETRAINED_KEYS, 'seed', 'weights'], 'fromConfig');
    const dev = o.dev ?? (await getDevice());
    await planOrRefuse(cfg, dev, o.quantizationConfig, 'fromConfig');
    const tensors = o.weights ?? randomWeights(cfg, o.seed ?? 0);
    const src = memorySource('random weights', tensors as Record<string, { shape: number[]; data: Float32Array }>);
    return buildCausalLM(cfg, src, { dev, linear: quantOptions(o.quantizationConfig), onProgress: o.onProgress, dtype: storage(o, dev, !!quantOptions(o.quantizationConfig)) });
  },
};

/** config.json text for a full-precision save (no quantization_config). */
export function configJsonText(cfg: ModelConfig, torchDtype: 'float32' | 'float16' | 'bfloat16' = 'float32'): string {
  const json = modelConfigToJson(cfg, { quantizationConfig: null }) as Record<string, unknown>;
  json.torch_dtype = torchDtype;
  return `${JSON.stringify(json, null, 2)}\n`;
}
