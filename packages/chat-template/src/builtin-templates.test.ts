// Expected strings are written by hand from the published templates (trim_blocks and
// lstrip_blocks on, as transformers renders them).
import { describe, expect, test } from 'vitest';
import { renderChatTemplate } from './apply-chat-template';
import { conversations as c } from './test-fixtures';

const QWEN_SYS = '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n';

describe('chatml', () => {
  const r = (k: string, agp = false) => renderChatTemplate(c[k], { templateName: 'chatml', addGenerationPrompt: agp });
  test('system, with and without generation prompt', () => {
    const body = '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n';
    expect(r('system')).toBe(body);
    expect(r('system', true)).toBe(body + '<|im_start|>assistant\n');
  });
  test('no default system prompt', () => {
    expect(r('single', true)).toBe('<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n');
  });
});

describe('qwen2.5', () => {
  const r = (k: string, agp = false) => renderChatTemplate(c[k], { templateName: 'qwen2.5', addGenerationPrompt: agp });
  test('adds the default system prompt when there is no system message', () => {
    expect(r('single', true)).toBe(QWEN_SYS + '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n');
    expect(r('single')).toBe(QWEN_SYS + '<|im_start|>user\nHello<|im_end|>\n');
  });
  test('uses the given system message instead', () => {
    expect(r('system')).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n',
    );
  });
  test('multi-turn', () => {
    expect(r('multi_turn', true)).toBe(
      QWEN_SYS +
        '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n' +
        '<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\nWhy did the chicken cross the road?<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });
  test('non-ASCII (Chinese, emoji, accents) passes through unchanged', () => {
    expect(r('non_ascii')).toBe(
      QWEN_SYS + '<|im_start|>user\n你好，世界！🌍<|im_end|>\n<|im_start|>assistant\n你好！😀 Ça va? naïve café<|im_end|>\n',
    );
  });
  test('tools, tool calls and tool responses', () => {
    const text = renderChatTemplate(
      [
        { role: 'user', content: 'Time?' },
        { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_time', arguments: { tz: 'UTC' } } }] },
        { role: 'tool', content: '12:00' },
      ],
      { templateName: 'qwen2.5', tools: [{ type: 'function', function: { name: 'get_time', parameters: {} } }], addGenerationPrompt: true },
    );
    expect(text).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\n' +
        'You may call one or more functions to assist with the user query.\n\n' +
        'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
        '{"type": "function", "function": {"name": "get_time", "parameters": {}}}\n</tools>\n\n' +
        'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\nTime?<|im_end|>\n' +
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\n<tool_response>\n12:00\n</tool_response><|im_end|>\n<|im_start|>assistant\n',
    );
  });
});

describe('zephyr (TinyLlama-1.1B-Chat)', () => {
  const r = (k: string, agp = false) => renderChatTemplate(c[k], { templateName: 'zephyr', addGenerationPrompt: agp });
  test('generation prompt is <|assistant|> plus the newline after its }}', () => {
    expect(r('single', true)).toBe('<|user|>\nHello</s>\n<|assistant|>\n');
    expect(r('single')).toBe('<|user|>\nHello</s>\n');
  });
  test('system and multi-turn', () => {
    expect(r('system')).toBe('<|system|>\nYou are terse.</s>\n<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n4</s>\n');
    expect(r('multi_turn')).toBe(
      '<|user|>\nHi</s>\n<|assistant|>\nHello! How can I help?</s>\n<|user|>\nTell me a joke.</s>\n<|assistant|>\nWhy did the chicken cross the road?</s>\n',
    );
  });
  test('non-ASCII', () => {
    expect(r('non_ascii', true)).toBe('<|user|>\n你好，世界！🌍</s>\n<|assistant|>\n你好！😀 Ça va? naïve café</s>\n<|assistant|>\n');
  });
  test('eos_token comes from specialTokens when given', () => {
    expect(renderChatTemplate(c.single, { templateName: 'zephyr', specialTokens: { eos_token: '<EOS>' } })).toBe('<|user|>\nHello<EOS>\n');
  });
});

describe('llama3', () => {
  const r = (k: string, agp = false) => renderChatTemplate(c[k], { templateName: 'llama3', addGenerationPrompt: agp });
  const H = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
  test('bos once, content trimmed, eot after every turn', () => {
    expect(r('whitespace')).toBe(`<|begin_of_text|>${H('user')}padded<|eot_id|>${H('assistant')}spaced answer<|eot_id|>`);
  });
  test('system, with and without generation prompt', () => {
    const body = `<|begin_of_text|>${H('system')}You are terse.<|eot_id|>${H('user')}What is 2+2?<|eot_id|>${H('assistant')}4<|eot_id|>`;
    expect(r('system')).toBe(body);
    expect(r('system', true)).toBe(body + H('assistant'));
  });
  test('non-ASCII', () => {
    expect(r('non_ascii')).toBe(`<|begin_of_text|>${H('user')}你好，世界！🌍<|eot_id|>${H('assistant')}你好！😀 Ça va? naïve café<|eot_id|>`);
  });
});
