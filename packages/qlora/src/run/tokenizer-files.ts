/** Copies a tokenizer's files next to a saved model or adapter, as save_pretrained does. */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Files transformers reads with the tokenizer and the generation defaults. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'generation_config.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'added_tokens.json',
];

/** Copies those of TOKENIZER_FILES that `from` has into `to`; returns their names. */
export async function copyTokenizerFiles(from: string, to: string): Promise<string[]> {
  if (from === to) return [];
  const have = new Set(await readdir(from));
  await mkdir(to, { recursive: true });
  const copied: string[] = [];
  for (const f of TOKENIZER_FILES) {
    if (!have.has(f)) continue;
    await copyFile(join(from, f), join(to, f));
    copied.push(f);
  }
  return copied;
}
