import { describe, expect, test } from 'vitest';
import { renderChatTemplate } from './apply-chat-template';
import { qwen3Config } from './test-fixtures';
import { getChatTemplate, specialTokensFromConfig } from './tokenizer-config';

describe('getChatTemplate', () => {
  const list = { chat_template: [{ name: 'default', template: 'D' }, { name: 'tool_use', template: 'T' }, { name: 'rag', template: 'R' }] };
  test('one string, or a named list', () => {
    expect(getChatTemplate({ chat_template: 'X' })).toBe('X');
    expect(getChatTemplate(list)).toBe('D');
    expect(getChatTemplate(list, 'rag')).toBe('R');
    expect(getChatTemplate(list, undefined, { hasTools: true })).toBe('T');
    expect(getChatTemplate(qwen3Config).startsWith("{%- if tools %}\n    {{- '<|im_start|>system\\n' }}")).toBe(true);
  });
  test('errors list what the file has', () => {
    expect(() => getChatTemplate(list, 'nope')).toThrow(/"templateName": expected one of "default", "rag", "tool_use", got "nope"/);
    expect(() => getChatTemplate({ chat_template: [{ name: 'a', template: 'A' }] })).toThrow(/no "default"/);
    expect(() => getChatTemplate({})).toThrow(/tokenizer_config.json: has no "chat_template"/);
    expect(() => getChatTemplate({ chat_template: [{ name: 1 }] } as never)).toThrow(/"chat_template"\[0\]/);
  });
});

describe('specialTokensFromConfig', () => {
  test('strings and AddedToken objects; unset tokens left out', () => {
    expect(specialTokensFromConfig({ bos_token: { content: '<s>', __type: 'AddedToken' }, eos_token: '</s>', pad_token: null, additional_special_tokens: [] })).toEqual({
      bos_token: '<s>',
      eos_token: '</s>',
    });
    const q = specialTokensFromConfig(qwen3Config);
    expect(q.bos_token).toBeUndefined();
    expect([q.eos_token, q.pad_token]).toEqual(['<|im_end|>', '<|endoftext|>']);
  });
  test('config tokens reach the template; explicit specialTokens and templateKwargs override them', () => {
    const t = '{{ eos_token }}|{{ bos_token }}';
    const m = [{ role: 'user', content: 'a' }];
    expect(renderChatTemplate(m, { chatTemplate: t, tokenizerConfig: qwen3Config })).toBe('<|im_end|>|');
    expect(renderChatTemplate(m, { chatTemplate: t, tokenizerConfig: qwen3Config, specialTokens: { bos_token: 'B' } })).toBe('<|im_end|>|B');
    expect(renderChatTemplate(m, { chatTemplate: t, specialTokens: { eos_token: 'E' }, templateKwargs: { eos_token: 'K' } })).toBe('K|');
  });
});
