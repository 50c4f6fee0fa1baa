// `qlora eval`'s measurements against values computed by hand: the loss is the mean over labelled
// tokens of -log softmax(logits)[next token], in float64 on the host from the model's own logits;
// exact match counts answers equal to their reference after trimming.
import { afterAll, describe, expect, it } from 'vitest';
import { device } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, randomWeights, type CausalLM } from '@q/model';
import { tokenizeRows } from '@q/sft';
import { builtinTokenizer } from '../src/builtin';
import { datasetLoss, evaluateModel, exactMatchSamples, exactMatchScore, isExactMatch } from '../src/run/evaluate';

const cfg = parseModelConfig(
  { model_type: 'llama', vocab_size: 32000, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true },
  'test',
);
let model: CausalLM | null = null;
afterAll(() => {
  model?.release();
  try {
    device().dispose();
  } catch {
    // no device was opened
  }
});

const chat = (q: string, a: string) => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });

describe('evaluate', () => {
  it('exact match trims whitespace and nothing else', () => {
    expect(isExactMatch('  The capital of Peru is Lima.\n', 'The capital of Peru is Lima.')).toBe(true);
    expect(isExactMatch('The capital of Peru is Lima', 'The capital of Peru is Lima.')).toBe(false);
    expect(isExactMatch('the capital of peru is lima.', 'The capital of Peru is Lima.')).toBe(false);
    expect(exactMatchScore([{ correct: true }, { correct: false }, { correct: true }, { correct: true }])).toBe(0.75);
    expect(exactMatchScore([])).toBeNull();
  });

  it('loss and perplexity equal a float64 reference from the logits', async () => {
    const tok = await builtinTokenizer();
    model = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 3, 0.02, { embedStd: 0.5 }) });
    const rows = [chat('What is the capital of Peru?', 'The capital of Peru is Lima.'), chat('Where is Chile?', 'Chile is in South America.'), { text: 'Paris is the capital of France.' }];
    // The tokens and labels training would use: assistant turns of chat rows, every token of text.
    const { examples } = tokenizeRows(rows, tok, { datasetTextField: 'text', maxLength: 1024, completionOnlyLoss: null, assistantOnlyLoss: true, appendEos: true });
    let sum = 0;
    let n = 0;
    for (const e of examples) {
      const logits = (await model.logits({ inputIds: [e.inputIds] }).read()) as Float32Array;
      const V = cfg.vocabSize;
      for (let t = 0; t + 1 < e.inputIds.length; t++) {
        const y = e.labels[t + 1]!;
        if (y === -100) continue;
        const row = Array.from(logits.subarray(t * V, (t + 1) * V), Number);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
        sum += lse - row[y]!;
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
    const got = await datasetLoss(model, tok, rows, { batchSize: 2 });
    expect(got.tokens).toBe(n);
    expect(Math.abs(got.sum - sum) / sum).toBeLessThan(1e-4);
    const r = await evaluateModel(model, tok, rows, { batchSize: 2, exactMatch: false });
    expect(r.loss).toBeCloseTo(sum / n, 4);
    expect(r.perplexity).toBeCloseTo(Math.exp(sum / n), 1);
    expect(r.exactMatch).toBeNull();
  });

  it('exact match: greedy answers compared with the references', async () => {
    const tok = await builtinTokenizer();
    const rows = [chat('What is the capital of Peru?', 'x'), chat('Where is Chile?', 'x')];
    // Batched generation (left-padded) gives each row the answer it gets alone.
    const alone = [];
    for (const r of rows) alone.push((await exactMatchSamples(model!, tok, [r], { maxNewTokens: 6 }))[0]!.answer);
    const batched = await exactMatchSamples(model!, tok, rows, { maxNewTokens: 6, batchSize: 2 });
    expect(batched.map((s) => s.answer)).toEqual(alone);
    expect(batched.map((s) => s.question)).toEqual(['What is the capital of Peru?', 'Where is Chile?']);
    // With the model's own answers as references (the reference sets the token budget: its tokens + 8),
    // one right and one wrong: 50%.
    const refs = [chat('What is the capital of Peru?', alone[0]!.trim()), chat('Where is Chile?', 'Chile is in South America.')];
    const r = await evaluateModel(model!, tok, refs, { maxNewTokens: 6, batchSize: 2 });
    expect(r.samples.map((s) => s.correct)).toEqual([true, false]);
    expect(r.exactMatch).toBe(0.5);
  });
});
