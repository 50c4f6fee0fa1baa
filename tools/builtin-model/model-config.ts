/**
 * The built-in model's architecture: Llama (TinyLlama's family) at a size whose f16 weights stay
 * under 30 MB with a 32,000-token vocabulary. Tied embeddings: the 32,000 x 256 table is most of the
 * weights, and tying stores it once.
 */
export const BUILTIN_LLAMA_CONFIG = Object.freeze({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 256,
  intermediate_size: 768,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  head_dim: 64,
  hidden_act: 'silu',
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  attention_bias: false,
  mlp_bias: false,
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: 2,
});

/** generation_config.json: greedy, stop at </s>. */
export const BUILTIN_GENERATION_CONFIG = Object.freeze({
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: 2,
  do_sample: false,
  max_new_tokens: 64,
});
