import type { ModelConfig } from './model-config';

/** Options of {@link modelConfigToJson}. */
export interface ModelConfigToJsonOptions {
  /**
   * quantization_config to write: an object replaces it, `null` drops it (e.g. after merging into
   * f16), undefined keeps `cfg.quantizationConfig`.
   */
  quantizationConfig?: Record<string, unknown> | null;
}

/**
 * Writes a config back in transformers' config.json form: the fields of the original file we do
 * not model are kept, the ones we do are written from `cfg`.
 *
 * @example
 * ```ts
 * const json = modelConfigToJson({ ...cfg, torchDtype: 'float16' }, { quantizationConfig: null });
 * await atomicWriteFile(join(out, 'config.json'), JSON.stringify(json, null, 2) + '\n');
 * ```
 */
export function modelConfigToJson(cfg: ModelConfig, options: ModelConfigToJsonOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg.raw };
  const rope = cfg.ropeScaling;
  Object.assign(out, {
    architectures: cfg.architectures.length > 0 ? cfg.architectures : [defaultArchitecture(cfg)],
    model_type: cfg.modelType,
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numHiddenLayers,
    num_attention_heads: cfg.numAttentionHeads,
    num_key_value_heads: cfg.numKeyValueHeads,
    hidden_act: cfg.hiddenAct,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenId,
  });
  // rope_parameters (newer transformers) would override our rope_* keys on load; fold it back.
  delete out.rope_parameters;
  out.rope_scaling = rope === null ? null
    : rope.type === 'linear' ? { rope_type: 'linear', factor: rope.factor }
    : {
        rope_type: 'llama3',
        factor: rope.factor,
        low_freq_factor: rope.lowFreqFactor,
        high_freq_factor: rope.highFreqFactor,
        original_max_position_embeddings: rope.originalMaxPositionEmbeddings,
      };
  // Write head_dim only when it is not the derived value, as transformers' own configs do.
  if (cfg.headDim !== cfg.hiddenSize / cfg.numAttentionHeads || 'head_dim' in cfg.raw) out.head_dim = cfg.headDim;
  if (cfg.modelType === 'llama') {
    out.attention_bias = cfg.oBias || cfg.qkvBias;
    out.mlp_bias = cfg.mlpBias;
  }
  if (cfg.padTokenId !== null || 'pad_token_id' in cfg.raw) out.pad_token_id = cfg.padTokenId;
  delete out.dtype;
  if (cfg.torchDtype !== null) out.torch_dtype = cfg.torchDtype;
  else delete out.torch_dtype;
  const q = options.quantizationConfig === undefined ? cfg.quantizationConfig : options.quantizationConfig;
  if (q === null) delete out.quantization_config;
  else out.quantization_config = q;
  return out;
}

function defaultArchitecture(cfg: ModelConfig): string {
  return { qwen2: 'Qwen2ForCausalLM', llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM' }[cfg.modelType];
}
