import { describe, expect, test } from 'vitest';
import { renderChatTemplate } from './apply-chat-template';
import { strftime } from './strftime';
import { qwen3Config } from './test-fixtures';

describe('continueFinalMessage', () => {
  const m = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Once upon' }];
  test('leaves the final turn open (ChatML: no <|im_end|>)', () => {
    expect(renderChatTemplate(m, { templateName: 'chatml', continueFinalMessage: true })).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nOnce upon',
    );
  });
  test('Qwen3: continues after the think block', () => {
    expect(renderChatTemplate(m, { tokenizerConfig: qwen3Config, continueFinalMessage: true })).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nOnce upon',
    );
  });
  test('Llama 3 trims the content, so the cut drops the trailing space too', () => {
    expect(renderChatTemplate([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Once ' }], { templateName: 'llama3', continueFinalMessage: true })).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nOnce',
    );
  });
});

describe('globals', () => {
  test('strftime_now uses the given clock and English names (C locale)', () => {
    const t = '{{ strftime_now("%d %b %Y") }}|{{ strftime_now("%A %B %H:%M:%S %j") }}';
    const now = new Date(2024, 6, 26, 9, 5, 3);
    expect(renderChatTemplate([{ role: 'user', content: 'a' }], { chatTemplate: t, now })).toBe('26 Jul 2024|Friday July 09:05:03 208');
    expect(strftime(new Date(2023, 0, 1, 13), '%I%p %y %%')).toBe('01PM 23 %');
  });
  test('tools and documents are null when not given, as in transformers', () => {
    // (Tests in `if`: printing a boolean gives "True" in Python but "true" in @huggingface/jinja.)
    const t = '{% if tools is none %}1{% endif %}{% if documents is none %}2{% endif %}{% if tools is defined %}3{% endif %}';
    expect(renderChatTemplate([{ role: 'user', content: 'a' }], { chatTemplate: t })).toBe('123');
  });
  test('range, namespace and loop controls used by common templates', () => {
    const t = '{%- set ns = namespace(n=0) %}{%- for i in range(5) %}{%- if i == 3 %}{% break %}{% endif %}{%- set ns.n = ns.n + i %}{%- endfor %}{{ ns.n }}';
    expect(renderChatTemplate([{ role: 'user', content: 'a' }], { chatTemplate: t })).toBe('3');
  });
});
