/**
 * A tiny Qwen2 model folder for CLI tests that start processes many times: byte-level BPE over the
 * 256 bytes plus ChatML's special tokens (vocab 259, no merges), 2 layers of hidden size 16,
 * seeded random weights. Built by code, so every run makes the same bytes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUILTIN_TEMPLATES } from '@q/chat-template';
import { parseModelConfig, randomWeights, saveModelFolder, type SaveEntry } from '@q/model';

/** GPT-2's bytes_to_unicode: each byte as a printable character. */
function byteChars(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
  return out;
}

export const TINY_SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

export function tinyTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, i) => (vocab[c] = i));
  const added = TINY_SPECIAL.map((content, k) => ({ id: 256 + k, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  for (const a of added) vocab[a.content] = a.id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
}

export const TINY_CONFIG = {
  model_type: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  vocab_size: 259,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  eos_token_id: 258,
  torch_dtype: 'float32',
};

/** Writes the model folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json). */
export async function writeTinyModel(dir: string, configOverrides: Record<string, unknown> = {}): Promise<string> {
  const cfg = parseModelConfig({ ...TINY_CONFIG, ...configOverrides }, 'tiny/config.json');
  const w = randomWeights(cfg, 7, 0.05, { embedStd: 0.5 });
  const entries: SaveEntry[] = Object.entries(w).map(([n, t]) => [n, [...t.shape], async () => t.data as Float32Array]);
  await saveModelFolder(dir, cfg, entries);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: BUILTIN_TEMPLATES.chatml.template, model_max_length: 256 }),
  );
  return dir;
}

/** A small chat dataset: `n` rows of one question and its answer. */
export async function writeTinyChat(file: string, n = 8): Promise<string> {
  const rows = Array.from({ length: n }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `What is ${i} + 1?` }, { role: 'assistant', content: `${i + 1}` }] }));
  await writeFile(file, `${rows.join('\n')}\n`);
  return file;
}
