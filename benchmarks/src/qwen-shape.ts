/**
 * Qwen2.5-0.5B's architecture with fast pseudo-random weights: speed does not depend on values,
 * and half a billion Box-Muller normals in JS would dominate the run.
 */
import type { SafetensorsEntry } from '@q/core';
import { checkpointLayout, parseModelConfig, type ModelConfig } from '@q/model';

export function qwen05Config(layers = 24, vocab = 151936): ModelConfig {
  return parseModelConfig(
    {
      model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], vocab_size: vocab, hidden_size: 896, intermediate_size: 4864,
      num_hidden_layers: layers, num_attention_heads: 14, num_key_value_heads: 2, max_position_embeddings: 32768,
      rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true, torch_dtype: 'bfloat16',
    },
    'Qwen2.5-0.5B shape',
  );
}

export function fastWeights(cfg: ModelConfig, std = 0.02): Record<string, SafetensorsEntry> {
  const out: Record<string, SafetensorsEntry> = {};
  let s = 12345 >>> 0;
  for (const [name, shape] of checkpointLayout(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    if (/norm\.weight$/.test(name)) d.fill(1);
    else {
      const a = std * Math.sqrt(3);
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        d[i] = (s / 4294967296 - 0.5) * 2 * a;
      }
    }
    out[name] = { dtype: 'F32', shape, data: d };
  }
  return out;
}
