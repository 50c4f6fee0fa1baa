// Masks are checked on tokens: each run of masked-in tokens must decode to exactly one assistant
// turn's output plus its end-of-turn token, and the ids must be the plain tokenization.
import { describe, expect, test } from 'vitest';
import { applyChatTemplate } from './apply-chat-template';
import { CHATML_GENERATION_TEMPLATE, charTokenizer, conversations as c, maskedRuns, qwen3Config, qwen3Tokenizer } from './test-fixtures';
import type { ChatMessage, ChatTokenizer } from './types';

function masks(messages: ChatMessage[], opts: Parameters<typeof applyChatTemplate>[1], tok: ChatTokenizer & { decode(ids: number[]): string }) {
  const out = applyChatTemplate(messages, { ...opts, tokenizer: tok, returnAssistantTokensMask: true });
  expect(out.inputIds).toEqual(tok.encode(out.text, { addSpecialTokens: false }));
  expect(out.assistantMasks).toHaveLength(out.inputIds!.length);
  return maskedRuns(out.inputIds!, out.assistantMasks!, tok.decode);
}

describe('assistant masks with the Qwen3 tokenizer (no offsets: segment tokenization)', () => {
  test('chatml and qwen2.5: content plus <|im_end|>, not the newline after it', () => {
    for (const templateName of ['chatml', 'qwen2.5']) {
      expect(masks(c.multi_turn, { templateName }, qwen3Tokenizer)).toEqual([
        'Hello! How can I help?<|im_end|>',
        'Why did the chicken cross the road?<|im_end|>',
      ]);
    }
  });
  test('non-ASCII content', () => {
    expect(masks(c.non_ascii, { templateName: 'qwen2.5' }, qwen3Tokenizer)).toEqual(['你好！😀 Ça va? naïve café<|im_end|>']);
  });
  test('real Qwen3 template (no {% generation %}): earlier turns lose their think block, the last keeps it', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A1' },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: 'A2', reasoning_content: 'r2' },
    ];
    expect(masks(messages, { tokenizerConfig: qwen3Config }, qwen3Tokenizer)).toEqual(['A1<|im_end|>', '<think>\nr2\n</think>\n\nA2<|im_end|>']);
  });
  test('a generation prompt after the last turn is not masked', () => {
    expect(masks(c.system, { templateName: 'qwen2.5', addGenerationPrompt: true }, qwen3Tokenizer)).toEqual(['4<|im_end|>']);
  });
  test('a tool-calling turn masks the call, the tool response does not', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Time?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'now', arguments: {} } }] },
      { role: 'tool', content: '12:00' },
      { role: 'assistant', content: 'Noon.' },
    ];
    expect(masks(messages, { templateName: 'qwen2.5' }, qwen3Tokenizer)).toEqual([
      // The template writes "\n<tool_call>" after the role, but that "\n" ends the generation prompt.
      '<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call><|im_end|>',
      'Noon.<|im_end|>',
    ]);
  });
  test('a boundary inside a token is an error, not a wrong mask', () => {
    // "</s>" is plain text to Qwen's tokenizer, so "</s>\n" merges across the span end.
    expect(() => applyChatTemplate(c.system, { templateName: 'zephyr', tokenizer: qwen3Tokenizer, returnAssistantTokensMask: true })).toThrow(
      /falls inside a token/,
    );
  });
});

describe('assistant masks with offsets', () => {
  test('zephyr: the newline after <|assistant|> is generated, so it is masked', () => {
    expect(masks(c.multi_turn, { templateName: 'zephyr' }, charTokenizer)).toEqual([
      'Hello! How can I help?</s>',
      'Why did the chicken cross the road?</s>',
    ]);
  });
  test('llama3: trimmed content plus <|eot_id|>', () => {
    expect(masks(c.whitespace, { templateName: 'llama3' }, charTokenizer)).toEqual(['spaced answer<|eot_id|>']);
  });
});

describe('prefix fallback', () => {
  // Like SentencePiece's Metaspace: every encode call starts with a "▁" token (id 0), so segments
  // do not concatenate to the full tokenization but prefixes are prefixes of it.
  const spm = {
    encode: (t: string) => [0, ...Array.from({ length: t.length }, (_, i) => t.charCodeAt(i))],
    decode: (ids: number[]) => String.fromCharCode(...ids.filter((x) => x !== 0)),
  };
  test('finds token boundaries by tokenizing prefixes', () => {
    expect(masks(c.system, { templateName: 'chatml' }, spm)).toEqual(['4<|im_end|>']);
  });
});

describe('{% generation %} blocks', () => {
  const template = CHATML_GENERATION_TEMPLATE;
  test('spans come from the blocks, as transformers records them', () => {
    const out = applyChatTemplate(c.multi_turn, { chatTemplate: template, tokenizer: qwen3Tokenizer, returnAssistantTokensMask: true });
    expect(out.text).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n' +
        '<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\nWhy did the chicken cross the road?<|im_end|>\n',
    );
    expect(out.assistantSpans!.map(([s, e]) => out.text.slice(s, e))).toEqual([
      'Hello! How can I help?<|im_end|>',
      'Why did the chicken cross the road?<|im_end|>',
    ]);
  });
  test('block tags keep lstrip_blocks, trim_blocks and "-" semantics', () => {
    const spans = (t: string) => {
      const o = applyChatTemplate(c.single, { chatTemplate: t, tokenizer: charTokenizer, returnAssistantTokensMask: true });
      return [o.text, o.assistantSpans!.map(([s, e]) => o.text.slice(s, e))];
    };
    expect(spans('A\n  {% generation %}\nB{% endgeneration %}\nC')).toEqual(['A\nBC', ['B']]);
    expect(spans('x {% generation %}y{% endgeneration %} z')).toEqual(['x y z', ['y']]);
    expect(spans('x {%- generation -%} y {%- endgeneration %} z')).toEqual(['xy z', ['y']]);
  });
  test('a message holding a marker character is rejected', () => {
    expect(() => applyChatTemplate([{ role: 'user', content: 'a\uE000b' }], { chatTemplate: template })).toThrow(/messages\[0\] holds/);
  });
});
