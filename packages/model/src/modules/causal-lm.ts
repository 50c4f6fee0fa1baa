/**
 * A decoder-only causal LM (Qwen2, Llama, Mistral) on @q/core: embeddings, decoder layers, final
 * norm and lm_head, with parameters named as in the Hugging Face checkpoint.
 */
// input ids: [B, T] -> logits: [B, T, V]
import {
  checkpoint, embedding, matmul, rmsNorm, tensor, tidy, noGrad, RotaryTables,
  ShapeError, type QDevice, type Tensor,
} from '@q/core';
import type { ModelConfig } from '../config';
import { ropeInverseFrequencies } from '../config';
import { DecoderLayer, ATTN_PROJ, MLP_PROJ, projPath, type ProjName } from './decoder-layer';
import type { LinearLike } from './linear';
import { KVCache } from './kv-cache';
import { prepareBatch, type BatchInput } from './batch';
import { chunkedLmHeadLoss } from './lm-head-loss';
import type { GenerationConfig } from '../generate/generation-config';
import { generate, generateWithDetails, type GenerateOptions, type GenerateOutput } from '../generate/generate';

export interface ForwardOptions extends BatchInput {
  /** Decode against (and fill) this cache. */
  cache?: KVCache;
  /** Compute logits for the last position only (generation). */
  lastOnly?: boolean;
  /** Divide the summed loss by this (transformers' num_items_in_batch under accumulation). */
  lossNormalizer?: number;
  /**
   * With labels, logits are not kept by default: the loss is computed in recomputed row chunks
   * (see lm-head-loss.ts). Ask for them here when you need both.
   */
  returnLogits?: boolean;
}

export interface ForwardOutput {
  /** [B, T, V], or [B, 1, V] with lastOnly; absent when labels were given without returnLogits. */
  logits?: Tensor;
  /** Mean cross-entropy of next-token prediction where labels were given. */
  loss?: Tensor;
}

export interface LinearSlot {
  /** HF module path, e.g. model.layers.0.self_attn.q_proj */
  name: string;
  layer: number;
  proj: ProjName;
  get(): LinearLike;
  set(l: LinearLike): void;
}

export class CausalLM {
  readonly rotary: RotaryTables;
  gradientCheckpointing = false;
  /** transformers' config.use_cache: whether generate() keeps a KV cache. */
  useCache = true;
  /**
   * Defaults of {@link generate} (transformers' `model.generation_config`): fromPretrained reads
   * generation_config.json into it; the options of each call override it.
   */
  generationConfig: GenerationConfig | null = null;
  /**
   * Dtype of activations in matmuls, attention and the MLP ('f16': fp16 mixed precision, f32
   * accumulation inside every kernel). The residual stream, norms' statistics, the loss and every
   * weight stay f32, as with peft + torch.autocast; see {@link setComputeDtype}.
   */
  computeDtype: 'f32' | 'f16' = 'f32';

  constructor(
    readonly config: ModelConfig,
    public embedTokens: Tensor,
    readonly layers: DecoderLayer[],
    public norm: Tensor,
    /** null when tied to the embeddings. */
    public lmHead: Tensor | null,
    readonly dev: QDevice,
  ) {
    const maxPos = Math.min(config.maxPositionEmbeddings, 32768);
    this.rotary = new RotaryTables(config.headDim, maxPos, Float32Array.from(ropeInverseFrequencies(config)), dev);
  }

  get vocabSize(): number {
    return this.embedTokens.shape[0]!;
  }

  /**
   * Sets the compute dtype of training and evaluation forwards (decoding with a KV cache stays
   * f32). 'f16' needs the adapter's shader-f16 feature.
   */
  setComputeDtype(d: 'f32' | 'f16'): void {
    if (d === 'f16' && !this.dev.info.f16) {
      throw new ShapeError(`fp16 needs the adapter's shader-f16 feature, which ${this.dev.info.description || 'this adapter'} lacks: train in f32`);
    }
    this.computeDtype = d;
  }

  /** Runs the model; with `labels`, also the shifted next-token loss as transformers computes it. */
  forward(o: ForwardOptions): ForwardOutput {
    const past = o.cache?.length ?? 0;
    const batch = prepareBatch(o, this.vocabSize, past, o.cache?.capacity);
    if (past + batch.T > this.rotary.maxPositions) {
      throw new ShapeError(`sequence of ${past + batch.T} positions exceeds the ${this.rotary.maxPositions} this model supports`);
    }
    return tidy(() => {
      const ids = tensor(batch.ids, [batch.B, batch.T], { dtype: 'i32', dev: this.dev });
      const positions = tensor(batch.positions, [batch.B, batch.T], { dtype: 'i32', dev: this.dev });
      const mask = batch.mask ? tensor(batch.mask, [batch.B, batch.maskLen], { dtype: 'i32', dev: this.dev }) : undefined;
      // A prefill into an empty cache attends over its own columns only (see DecoderLayer).
      const prefillMask =
        batch.mask && o.cache && past === 0 && batch.T > 1
          ? tensor(Int32Array.from({ length: batch.B * batch.T }, (_, i) => batch.mask![Math.floor(i / batch.T) * batch.maskLen + (i % batch.T)]!), [batch.B, batch.T], { dtype: 'i32', dev: this.dev })
          : undefined;
      const segments = batch.segments ? tensor(batch.segments, [batch.B, batch.T], { dtype: 'i32', dev: this.dev }) : undefined;
      let h = embedding(this.embedTokens, ids);
      const compute = o.cache ? undefined : this.computeDtype;
      this.layers.forEach((layer, i) => {
        const cache = o.cache?.layers[i];
        // Positions, mask and segments go through checkpoint() as inputs so the tape keeps them for the re-run.
        const extra = [mask, segments].filter((t): t is Tensor => !!t);
        const run = (x: Tensor, pos: Tensor, ...rest: Tensor[]) =>
          layer.forward(x, this.rotary, { positions: pos, mask: mask && rest[0], prefillMask, segments: segments && rest[mask ? 1 : 0], cache, compute });
        const args = [h, positions, ...extra];
        h = this.gradientCheckpointing && !o.cache ? checkpoint(run as (...xs: Tensor[]) => Tensor, ...args) : run(h, positions, ...extra);
      });
      if (o.lastOnly) {
        const last = tensor(
          Array.from({ length: batch.B }, (_, b) => b * batch.T + batch.T - 1),
          [batch.B],
          { dtype: 'i32', dev: this.dev },
        );
        h = embedding(h.reshape([batch.B * batch.T, -1]), last).reshape([batch.B, 1, -1]);
      }
      const head = this.lmHead ?? this.embedTokens;
      const out: ForwardOutput = {};
      const wantLogits = !batch.labels || o.lastOnly || o.returnLogits;
      // Logits asked for come out f32 (transformers upcasts them); the loss alone runs its lm_head
      // products in the compute dtype.
      h = rmsNorm(h, this.norm, this.config.rmsNormEps, wantLogits ? h.dtype : compute);
      if (wantLogits) {
        const bytes = batch.B * (o.lastOnly ? 1 : batch.T) * this.vocabSize * 4;
        if (bytes > this.dev.gpu.limits.maxStorageBufferBindingSize) {
          throw new ShapeError(
            `logits of ${batch.B}x${o.lastOnly ? 1 : batch.T}x${this.vocabSize} (${bytes} bytes) exceed this adapter's ${this.dev.gpu.limits.maxStorageBufferBindingSize}-byte binding limit: use a smaller batch, lastOnly, or labels without returnLogits`,
          );
        }
        out.logits = matmul(h, head, { transB: true });
      }
      if (batch.labels && !o.lastOnly) {
        const valid = batch.labels.reduce((a, l) => a + (l === -100 ? 0 : 1), 0);
        // Bigger chunks keep the lm_head products wide; half the binding limit leaves headroom.
        const maxBytes = Math.min(256 * 2 ** 20, this.dev.gpu.limits.maxStorageBufferBindingSize / 2);
        out.loss = chunkedLmHeadLoss(h.reshape([batch.B * batch.T, -1]), head, batch.labels, o.lossNormalizer ?? Math.max(valid, 1), maxBytes);
      }
      return out as unknown as Record<string, Tensor>;
    }) as unknown as ForwardOutput;
  }

  /**
   * transformers' `model.generate`: prompt + new tokens per row (see {@link generate}), with
   * {@link generationConfig} as the defaults.
   *
   * @example
   * ```ts
   * const [seq] = await model.generate([tok.encode('Hello')], { maxNewTokens: 8 });
   * ```
   */
  generate(inputIds: ArrayLike<number>[], opts: GenerateOptions = {}): Promise<number[][]> {
    return generate(this, inputIds, opts);
  }

  /** {@link generate} with the new tokens, finish reasons and beam scores. */
  generateWithDetails(inputIds: ArrayLike<number>[], opts: GenerateOptions = {}): Promise<GenerateOutput> {
    return generateWithDetails(this, inputIds, opts);
  }

  /** Logits without recording gradients. */
  logits(o: ForwardOptions): Tensor {
    return noGrad(() => this.forward({ ...o, labels: undefined }).logits!);
  }

  /** Every projection slot, for LoRA injection and quantization. */
  linearSlots(): LinearSlot[] {
    const out: LinearSlot[] = [];
    this.layers.forEach((layer, i) => {
      for (const p of [...ATTN_PROJ, ...MLP_PROJ]) {
        out.push({
          name: projPath(i, p),
          layer: i,
          proj: p,
          get: () => layer.proj[p],
          set: (l) => {
            layer.proj[p] = l;
          },
        });
      }
    });
    return out;
  }

  /** Parameters under their Hugging Face names. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [['model.embed_tokens.weight', this.embedTokens]];
    this.layers.forEach((l, i) => out.push(...l.namedParameters(`model.layers.${i}`)));
    out.push(['model.norm.weight', this.norm]);
    if (this.lmHead) out.push(['lm_head.weight', this.lmHead]);
    return out;
  }

  /** Tensors that will receive gradients. */
  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, t]) => t.requiresGrad);
  }

  /** Turns gradient checkpointing on per decoder layer (transformers' gradient_checkpointing_enable). */
  gradientCheckpointingEnable(): void {
    this.gradientCheckpointing = true;
  }

  newCache(batch: number, capacity: number): KVCache {
    const c = this.config;
    return new KVCache(c.numHiddenLayers, batch, capacity, c.numKeyValueHeads, c.headDim, this.embedTokens.dtype === 'f16' ? 'f16' : 'f32');
  }

  /** Frees every GPU buffer of the model. */
  release(): void {
    this.embedTokens.release();
    for (const l of this.layers) l.release();
    this.norm.release();
    this.lmHead?.release();
    this.rotary.release();
  }
}

