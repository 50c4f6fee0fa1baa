import { ConfigError, FormatError, ValueError } from '@q/core';
import { describe, expect, test } from 'vitest';
import { applyChatTemplate, renderChatTemplate } from './apply-chat-template';
import { validateChatTemplateOptions } from './options';
import { qwen3Tokenizer } from './test-fixtures';
import { validateMessages } from './validate-messages';

describe('validateMessages', () => {
  const bad = (m: unknown) => () => validateMessages(m);
  test('names the message index and the field', () => {
    expect(bad('hi')).toThrow(new ValueError('messages: expected an array of {role, content} objects, got "hi"'));
    expect(bad([])).toThrow(/at least one message/);
    expect(bad([{ role: 'user', content: 'a' }, 5])).toThrow(/^messages\[1\]: expected an object/);
    expect(bad([{ content: 'a' }])).toThrow(/^messages\[0\]\.role: expected a non-empty string .*got undefined/);
    expect(bad([{ role: 'user', content: 'a' }, { role: 'user' }])).toThrow(/^messages\[1\]\.content: expected a string or an array of content parts, got undefined/);
    expect(bad([{ role: 'user', content: 3 }])).toThrow(/^messages\[0\]\.content: .*got number 3/);
    expect(bad([{ role: 'user', content: [{ type: 'text' }] }])).toThrow(/^messages\[0\]\.content\[0\]\.text/);
    expect(bad([{ role: 'assistant', content: 'x', tool_calls: {} }])).toThrow(/^messages\[0\]\.tool_calls: expected an array/);
  });
  test('accepts tool-call turns without content and multi-part content', () => {
    expect(() => validateMessages([{ role: 'assistant', content: null, tool_calls: [{ function: { name: 'f', arguments: {} } }] }])).not.toThrow();
    expect(() => validateMessages([{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image' }] }])).not.toThrow();
  });
  test('applyChatTemplate validates before rendering', () => {
    expect(() => renderChatTemplate([{ role: 'user', content: null }], { templateName: 'chatml' })).toThrow(ValueError);
  });
});

describe('validateChatTemplateOptions', () => {
  test('field errors name the field and the allowed values', () => {
    expect(() => validateChatTemplateOptions({ addGenerationPrompt: 'yes' as never })).toThrow(
      new ConfigError('addGenerationPrompt', 'true or false', 'yes', 'applyChatTemplate'),
    );
    expect(() => validateChatTemplateOptions({ addGenerationPromt: true } as never)).toThrow(/"addGenerationPromt".*templateKwargs/);
    expect(() => validateChatTemplateOptions({ tokenize: true })).toThrow(/"tokenizer": expected a tokenizer when tokenize is true/);
    expect(() => validateChatTemplateOptions({ returnAssistantTokensMask: true })).toThrow(/returnAssistantTokensMask/);
    expect(() => validateChatTemplateOptions({ continueFinalMessage: true, addGenerationPrompt: true })).toThrow(/continueFinalMessage/);
    expect(() => validateChatTemplateOptions({ tools: [1] as never })).toThrow(/"tools\[0\]"/);
    expect(() => validateChatTemplateOptions({ templateKwargs: { messages: [] } })).toThrow(/templateKwargs\.messages/);
  });
  test('defaults', () => {
    const r = validateChatTemplateOptions({ tokenizer: qwen3Tokenizer });
    expect([r.tokenize, r.addGenerationPrompt, r.continueFinalMessage, r.returnAssistantTokensMask, r.tools]).toEqual([true, false, false, false, null]);
    expect(validateChatTemplateOptions({}).tokenize).toBe(false);
  });
  test('no template, unknown built-in name', () => {
    expect(() => renderChatTemplate([{ role: 'user', content: 'a' }])).toThrow(/"chatTemplate": expected a template/);
    expect(() => renderChatTemplate([{ role: 'user', content: 'a' }], { templateName: 'vicuna' })).toThrow(/"chatml", "qwen2.5", "zephyr", "llama3"/);
  });
});

describe('template errors', () => {
  test('raise_exception becomes a ValueError with the template message', () => {
    const t = "{% if messages[0].role != 'user' %}{{ raise_exception('First message must be user') }}{% endif %}ok";
    expect(() => renderChatTemplate([{ role: 'assistant', content: 'a' }], { chatTemplate: t })).toThrow(
      new ValueError('the chat template rejected the conversation: First message must be user'),
    );
  });
  test('a syntax error is a FormatError', () => {
    expect(() => renderChatTemplate([{ role: 'user', content: 'a' }], { chatTemplate: '{% for %}' })).toThrow(FormatError);
  });
  test('a template that cannot describe a span asks for {% generation %}', () => {
    // Writes the assistant content twice, so no prefix render and no single marker fits.
    const t = "{% for m in messages %}{{ m.content }}{% endfor %}{{ messages[-1].content }}";
    expect(() =>
      applyChatTemplate([{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }], { chatTemplate: t, tokenizer: qwen3Tokenizer, returnAssistantTokensMask: true }),
    ).toThrow(/messages\[1\].*\{% generation %\}/);
  });
});
