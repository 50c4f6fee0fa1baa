import { parseModelConfig, type ModelConfig } from '../src';

/** A Qwen2-shaped tiny model: q/k/v biases, grouped-query attention, tied embeddings. */
export function tinyQwen2(vocab = 97): ModelConfig {
  return parseModelConfig(
    {
      model_type: 'qwen2',
      architectures: ['Qwen2ForCausalLM'],
      vocab_size: vocab,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 128,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
    },
    'tiny-qwen2/config.json',
  );
}

/** A Llama-shaped tiny model: no biases, untied lm_head, 3 layers. */
export function tinyLlama(vocab = 101): ModelConfig {
  return parseModelConfig(
    {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: vocab,
      hidden_size: 24,
      intermediate_size: 40,
      num_hidden_layers: 3,
      num_attention_heads: 3,
      num_key_value_heads: 1,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      tie_word_embeddings: false,
      torch_dtype: 'float32',
    },
    'tiny-llama/config.json',
  );
}
