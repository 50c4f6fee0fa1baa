/**
 * Builds a CausalLM on the GPU from a Hugging Face checkpoint: full-precision tensors, 4-bit
 * quantization of the decoder's linear layers on load (as bitsandbytes does: embeddings, norms and
 * lm_head stay in full precision), or a pre-quantized '-bnb-4bit' checkpoint as it is.
 */
import { getDevice, keep, tensor, FormatError, ShapeError, type QDevice, type Tensor } from '@q/core';
import type { ModelConfig } from '../config';
import { DecoderLayer, ATTN_PROJ, MLP_PROJ, projPath, type ProjName } from './decoder-layer';
import { Linear, type LinearLike } from './linear';
import { CausalLM } from './causal-lm';
import { checkpointLayout, hasBias, projShape } from './random-weights';

/** Where the loader gets tensors: a checkpoint on disk, or tensors in memory. */
export interface TensorSource {
  /** Source name for error messages (a folder or file). */
  name: string;
  has(name: string): boolean;
  shape(name: string): number[];
  readF32(name: string): Promise<Float32Array>;
}

/**
 * Makes the layer for one projection. The default keeps it dense; the 4-bit loader quantizes it.
 * `weight` is [out, in] in f32; the factory owns the GPU buffers it creates.
 */
export type LinearFactory = (
  path: string,
  weight: () => Promise<Float32Array>,
  shape: [number, number],
  bias: Float32Array | null,
  dev: QDevice,
) => Promise<LinearLike>;

export const denseLinear: LinearFactory = async (_path, weight, shape, bias, dev) =>
  new Linear(keep(tensor(await weight(), shape, { dev })), bias ? keep(tensor(bias, [shape[0]], { dev })) : null);

/** Dense projections stored as f16 (weight and bias), for a model loaded with dtype 'float16'. */
export const denseLinearF16: LinearFactory = async (_path, weight, shape, bias, dev) =>
  new Linear(keep(tensor(await weight(), shape, { dev, dtype: 'f16' })), bias ? keep(tensor(bias, [shape[0]], { dev, dtype: 'f16' })) : null);

export interface BuildOptions {
  linear?: LinearFactory;
  dev?: QDevice;
  /** Which tensors' stored shapes must equal the architecture's (4-bit ones are packed). */
  checkShape?: (name: string) => boolean;
  /** Storage of every dense tensor: 'f16' as transformers' torch_dtype=float16. Default 'f32'. */
  dtype?: 'f32' | 'f16';
  /** Called after each tensor is placed (for a progress bar). */
  onProgress?: (done: number, total: number, name: string) => void;
}

/** Builds the model from any tensor source, checking every name and shape against the config. */
export async function buildCausalLM(cfg: ModelConfig, src: TensorSource, o: BuildOptions = {}): Promise<CausalLM> {
  const dev = o.dev ?? (await getDevice());
  const make = o.linear ?? (o.dtype === 'f16' ? denseLinearF16 : denseLinear);
  const layout = checkpointLayout(cfg);
  // Tied checkpoints may still carry lm_head.weight; transformers ignores it, so do we.
  for (const [name, shape] of layout) {
    if (!src.has(name)) throw new FormatError(src.name, `missing tensor "${name}" (expected shape [${shape}] for ${cfg.modelType})`);
    const got = src.shape(name);
    if ((o.checkShape?.(name) ?? true) && got.join() !== shape.join()) throw new ShapeError(`${src.name}: tensor "${name}" has shape [${got}], config.json implies [${shape}]`);
  }
  const total = layout.length;
  let done = 0;
  const tick = (name: string) => o.onProgress?.(++done, total, name);
  const owned: { release(): void }[] = [];
  const load = async (name: string, shape: number[]): Promise<Tensor> => {
    const t = keep(tensor(await src.readF32(name), shape, { dev, dtype: o.dtype ?? 'f32' }));
    owned.push(t);
    tick(name);
    return t;
  };
  try {
    const embed = await load('model.embed_tokens.weight', [cfg.vocabSize, cfg.hiddenSize]);
    const layers: DecoderLayer[] = [];
    for (let i = 0; i < cfg.numHiddenLayers; i++) {
      const ln1 = await load(`model.layers.${i}.input_layernorm.weight`, [cfg.hiddenSize]);
      const ln2 = await load(`model.layers.${i}.post_attention_layernorm.weight`, [cfg.hiddenSize]);
      const proj = {} as Record<ProjName, LinearLike>;
      for (const p of [...ATTN_PROJ, ...MLP_PROJ]) {
        const path = projPath(i, p);
        const shape = projShape(cfg, p);
        const bias = hasBias(cfg, p) ? await src.readF32(`${path}.bias`) : null;
        const lin = await make(path, () => src.readF32(`${path}.weight`), shape, bias, dev);
        owned.push(lin);
        proj[p] = lin;
        tick(`${path}.weight`);
        if (bias) tick(`${path}.bias`);
      }
      layers.push(new DecoderLayer(cfg, proj, ln1, ln2));
    }
    const norm = await load('model.norm.weight', [cfg.hiddenSize]);
    const head = cfg.tieWordEmbeddings ? null : await load('lm_head.weight', [cfg.vocabSize, cfg.hiddenSize]);
    return new CausalLM(cfg, embed, layers, norm, head, dev);
  } catch (e) {
    for (const t of owned) t.release();
    throw e;
  }
}

/** A tensor source over tensors in memory (random test models, merged weights). */
export function memorySource(name: string, tensors: Record<string, { shape: number[]; data: ArrayLike<number> | Uint8Array }>): TensorSource {
  return {
    name,
    has: (n) => n in tensors,
    shape: (n) => tensors[n]!.shape,
    readF32: async (n) => {
      const d = tensors[n]!.data;
      if (d instanceof Float32Array) return d;
      if (d instanceof Uint8Array) throw new FormatError(name, `tensor "${n}" holds raw bytes; give f32 data`);
      return Float32Array.from(d);
    },
  };
}

