/**
 * The architecture of a causal LM, normalized from a Hugging Face `config.json`. One shape
 * covers Qwen2, Llama (TinyLlama, SmolLM, Llama 3.x) and Mistral: they differ only in which
 * projections carry biases, in RoPE scaling, and in defaults.
 */

/** model_type values we can load. */
export const MODEL_TYPES = ['qwen2', 'llama', 'mistral'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** Element types a checkpoint declares in `torch_dtype`. */
export const TORCH_DTYPES = ['float32', 'float16', 'bfloat16'] as const;
export type TorchDtype = (typeof TORCH_DTYPES)[number];

/** RoPE frequency scaling; `null` in config.json means none. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

/** A normalized model config. Every field is required here; defaults are filled at parse time. */
export interface ModelConfig {
  modelType: ModelType;
  /** e.g. ['Qwen2ForCausalLM']; written back unchanged. */
  architectures: string[];
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Grouped-query attention: K/V heads shared by numAttentionHeads / numKeyValueHeads queries. */
  numKeyValueHeads: number;
  /** Explicit `head_dim`, else hiddenSize / numAttentionHeads. */
  headDim: number;
  /** MLP activation; only 'silu' (SwiGLU) is supported. */
  hiddenAct: 'silu';
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** q_proj, k_proj, v_proj carry biases (always for Qwen2; `attention_bias` for Llama). */
  qkvBias: boolean;
  /** o_proj carries a bias (Llama's `attention_bias`; never Qwen2/Mistral). */
  oBias: boolean;
  /** gate/up/down projections carry biases (Llama's `mlp_bias`). */
  mlpBias: boolean;
  /** lm_head shares the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Precision the checkpoint was saved in, when declared. */
  torchDtype: TorchDtype | null;
  bosTokenId: number | null;
  /** One id or several (Llama 3 instruct lists three). */
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  /** bitsandbytes-style `quantization_config`, passed through untouched. */
  quantizationConfig: Record<string, unknown> | null;
  /** Things in the file we read but do not honour, each with the reason (e.g. sliding window). */
  notes: string[];
  /** The parsed config.json, so writing back keeps fields we do not model. */
  raw: Record<string, unknown>;
}

/**
 * transformers' defaults per model_type (configuration_llama.py, configuration_qwen2.py,
 * configuration_mistral.py), used for keys a config.json leaves out.
 */
export const MODEL_CONFIG_DEFAULTS: Record<ModelType, {
  vocab_size: number; hidden_size: number; intermediate_size: number; num_hidden_layers: number;
  num_attention_heads: number; num_key_value_heads: number | null; max_position_embeddings: number;
  rms_norm_eps: number; rope_theta: number; tie_word_embeddings: boolean;
  bos_token_id: number | null; eos_token_id: number | null;
}> = {
  llama: {
    vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: null, max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000,
    tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  },
  qwen2: {
    vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 32, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10000,
    tie_word_embeddings: false, bos_token_id: null, eos_token_id: null,
  },
  mistral: {
    vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 8, max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, rope_theta: 10000,
    tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  },
};
