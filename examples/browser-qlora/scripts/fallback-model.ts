/**
 * Used only when the repository has no built-in model folder yet: a tiny Llama-architecture
 * folder (random weights, the Llama 2 tokenizer) so the page has a default to train.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { BUILTIN_TEMPLATES } from '@q/chat-template';
import { join } from 'node:path';
import { parseModelConfig, randomWeights, saveModelFolder } from '@q/model';

export async function writeFallbackModel(dir: string, tokenizerDir: string): Promise<void> {
  const cfg = parseModelConfig(
    {
      model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 32000, hidden_size: 64, intermediate_size: 128,
      num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 512, rms_norm_eps: 1e-5,
      rope_theta: 10000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
    },
    'fallback built-in model',
  );
  const w = randomWeights(cfg, 0, 0.02, { embedStd: 0.3 });
  await mkdir(dir, { recursive: true });
  await saveModelFolder(dir, cfg, Object.entries(w).map(([n, e]) => [n, [...e.shape], async () => e.data as Float32Array] as [string, number[], () => Promise<Float32Array>]));
  await copyFile(join(tokenizerDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  // TinyLlama's chat models use Zephyr's template; the Llama 2 tokenizer files carry none.
  const tc = JSON.parse(await readFile(join(tokenizerDir, 'tokenizer_config.json'), 'utf8'));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...tc, chat_template: BUILTIN_TEMPLATES.zephyr.template }, null, 2));
}
