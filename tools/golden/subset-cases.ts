/** The subset-adapter merge cases shared by make-merged-subset.ts and the golden test that rebuilds them. */
export const subsetQwen2Config = {
  model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], vocab_size: 97, hidden_size: 32, intermediate_size: 48,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128,
  rms_norm_eps: 1e-6, rope_theta: 1000000.0, tie_word_embeddings: true, torch_dtype: 'float32',
};

export const subsetLlamaConfig = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 32000, hidden_size: 32, intermediate_size: 48,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128,
  rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
};

export const SUBSET_CASES = {
  inmemoryQkv: { targets: ['q_proj', 'k_proj', 'v_proj'], weightSeed: 5, std: 0.2, loraSeed: 9, ids: [[7, 3, 9, 27, 1, 4, 60, 2]] },
  cliQv: { targets: ['q_proj', 'v_proj'], weightSeed: 3, std: 0.1, loraSeed: 4, ids: [[1, 450, 4996, 17354, 1701, 29916, 432, 17204]] },
  trainMlp: { targets: ['gate_proj', 'up_proj', 'down_proj'], weightSeed: 3, std: 0.1, loraSeed: 0, ids: [[1, 450, 4996, 17354, 1701, 29916, 432, 17204]] },
};
