// Logits processors, sampling, stop strings, prompt padding and generation_config parsing, checked
// against hand-computed values (no GPU).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Rng } from '@q/core';
import {
  argmax, completesStopString, IncrementalDecoder, inferAttentionMask, leftPad, loadGenerationConfig, parseGenerationConfig,
  processLogits, repetitionPenalty, resolveGenerationConfig, sample, softmax, temperature, topK, topP,
} from '../src/generate';

const f32 = (...v: number[]) => Float32Array.from(v);
const NEG = -Infinity;

describe('logits processors', () => {
  it('repetitionPenalty divides positive and multiplies negative logits of seen tokens, once each', () => {
    expect(Array.from(repetitionPenalty(f32(2, -1, 3, 0.5), [0, 1, 1], 2))).toEqual([1, -2, 3, 0.5]);
    expect(Array.from(repetitionPenalty(f32(2, -1), [0, 1], 1))).toEqual([2, -1]);
  });

  it('temperature divides', () => {
    expect(Array.from(temperature(f32(2, -1, 3), 0.5))).toEqual([4, -2, 6]);
  });

  it('topK keeps the k largest, ties at the k-th included', () => {
    expect(Array.from(topK(f32(1, 3, 2, 3, 0), 2))).toEqual([NEG, 3, NEG, 3, NEG]);
    expect(Array.from(topK(f32(1, 3, 2, 3, 0), 3))).toEqual([NEG, 3, 2, 3, NEG]);
    expect(Array.from(topK(f32(1, 3, 2), 0))).toEqual([1, 3, 2]);
  });

  it('topP removes the least likely tokens while their cumulative probability is <= 1 - p', () => {
    // probabilities 0.5, 0.3, 0.15, 0.05 (ascending cumsum 0.05, 0.2, 0.5, 1)
    const l = () => f32(...[0.5, 0.3, 0.15, 0.05].map(Math.log));
    const kept = (p: number) => Array.from(topP(l(), p), (v) => v !== NEG);
    expect(kept(0.75)).toEqual([true, true, false, false]); // 1 - p = 0.25: drops 0.05 and 0.15
    expect(kept(0.9)).toEqual([true, true, true, false]);
    expect(kept(0.01)).toEqual([true, false, false, false]); // the top token always stays
    expect(kept(1)).toEqual([true, true, true, true]);
  });

  it('softmax', () => {
    const p = softmax(f32(0, Math.log(3), NEG));
    expect(p[0]).toBeCloseTo(0.25, 6);
    expect(p[1]).toBeCloseTo(0.75, 6);
    expect(p[2]).toBe(0);
  });

  it('processLogits: penalty, then temperature → topK → topP only when sampling', () => {
    const c = resolveGenerationConfig({ repetitionPenalty: 2, temperature: 0.5, topK: 2, doSample: false });
    expect(Array.from(processLogits(f32(4, 1, -1), [2], c))).toEqual([4, 1, -2]);
    const s = resolveGenerationConfig({ repetitionPenalty: 2, temperature: 0.5, topK: 2, doSample: true });
    expect(Array.from(processLogits(f32(4, 1, -1, 3), [0], s))).toEqual([4, NEG, NEG, 6]); // [2,1,-1,3]/0.5, top 2
  });
});

describe('choosing a token', () => {
  it('argmax takes the first maximum', () => {
    expect(argmax(f32(1, 5, 5, 2))).toBe(1);
  });

  it('sample inverts the CDF with one draw of the seeded RNG and never picks a removed token', () => {
    const u = new Rng(7).next();
    expect(sample(f32(0, NEG, 0), new Rng(7))).toBe(u < 0.5 ? 0 : 2);
    const rng = new Rng(3);
    const counts = [0, 0, 0, 0];
    const l = f32(Math.log(0.5), Math.log(0.3), Math.log(0.2), NEG);
    for (let i = 0; i < 20000; i++) counts[sample(l, rng)]!++;
    expect(counts[3]).toBe(0);
    [0.5, 0.3, 0.2].forEach((p, i) => expect(Math.abs(counts[i]! / 20000 - p)).toBeLessThan(0.015));
  });
});

// Each id decodes to its string; "\u0001\u0002" is one two-token character, "\u0001" alone an incomplete one.
const vocab = ['a', ' st', 'op', '.', 'x', ' stop.', '\n', '\u0001', '\u0002'];
const fakeTok = {
  decode: (ids: number[]) => ids.map((i) => vocab[i]).join('').replace(/\u0001\u0002/g, 'é').replace(/\u0001/g, '\uFFFD'),
};

describe('stop strings', () => {
  it('match when the last token completes the string, overhang included', () => {
    expect(completesStopString(fakeTok, [0, 1, 2], ['stop'])).toBe(true);
    expect(completesStopString(fakeTok, [0, 1], ['stop'])).toBe(false);
    expect(completesStopString(fakeTok, [0, 1, 2, 4], ['stop'])).toBe(false); // completed one token earlier
    expect(completesStopString(fakeTok, [0, 5], ['stop'])).toBe(true); // ' stop.' runs past the end
    expect(completesStopString(fakeTok, [0, 6, 6], ['x', '\n\n'])).toBe(true);
    expect(completesStopString(fakeTok, [0, 6, 6], [])).toBe(false);
  });

  it('IncrementalDecoder holds back an incomplete character', () => {
    const d = new IncrementalDecoder(fakeTok);
    expect(d.push([0])).toBe('a');
    expect(d.push([7])).toBe('');
    expect(d.push([8])).toBe('é');
    expect(d.push([7])).toBe('');
    expect(d.flush()).toBe('\uFFFD');
  });
});

describe('prompt padding', () => {
  it('re-pads right-padded rows on the left', () => {
    expect(leftPad([[5, 6, 0], [7, 0, 0]], [[1, 1, 0], [1, 0, 0]], 0)).toEqual({
      rows: [[5, 6], [7]],
      inputIds: [[5, 6], [0, 7]],
      attentionMask: [[1, 1], [0, 1]],
      length: 2,
    });
    expect(leftPad([[1, 2], [3]], undefined, 9).inputIds).toEqual([[1, 2], [9, 3]]);
    expect(leftPad([[1, 2], [3, 4]], undefined, null).attentionMask).toBeUndefined();
    expect(() => leftPad([[1, 2], [3]], undefined, null)).toThrow(/padTokenId/);
    expect(() => leftPad([[1, 2]], [[0, 0]], 0)).toThrow(/no tokens/);
  });

  it('infers the mask from the pad id as transformers does, unless pad is an eos id', () => {
    expect(inferAttentionMask([[0, 5], [6, 7]], 0, [2])).toEqual([[0, 1], [1, 1]]);
    expect(inferAttentionMask([[0, 5]], 0, [0])).toBeUndefined();
    expect(inferAttentionMask([[4, 5]], 0, [2])).toBeUndefined();
  });
});

describe('generation config', () => {
  it('reads generation_config.json (Qwen2.5-Instruct) into camelCase', () => {
    const json = {
      bos_token_id: 151643, pad_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643],
      repetition_penalty: 1.05, temperature: 0.7, top_p: 0.8, top_k: 20, transformers_version: '4.37.0',
    };
    expect(parseGenerationConfig(json)).toEqual({
      bosTokenId: 151643, padTokenId: 151643, doSample: true, eosTokenId: [151645, 151643], repetitionPenalty: 1.05, temperature: 0.7, topP: 0.8, topK: 20,
    });
  });

  it('refuses what it does not implement, typos and bad values, naming the field', () => {
    expect(() => parseGenerationConfig({ typical_p: 0.9 })).toThrow(ConfigError);
    expect(parseGenerationConfig({ typical_p: 1 })).toEqual({});
    expect(parseGenerationConfig({ num_beams: 4, early_stopping: 'never' })).toEqual({ numBeams: 4, earlyStopping: 'never' });
    expect(() => parseGenerationConfig({ early_stopping: 'sometimes' })).toThrow(/"earlyStopping"/);
    expect(() => parseGenerationConfig({ top_q: 0.9 })).toThrow(/"top_q"/);
    expect(() => resolveGenerationConfig({ maxNewToken: 5 } as never)).toThrow(/did you mean "maxNewTokens"/);
    expect(() => resolveGenerationConfig({ topP: 1.5 })).toThrow(/"topP"/);
    expect(() => resolveGenerationConfig({ temperature: 0 })).toThrow(/"temperature"/);
    expect(() => resolveGenerationConfig({ stopStrings: [''] })).toThrow(/"stopStrings"/);
  });

  it('defaults as transformers, pad falling back to the first eos', () => {
    const c = resolveGenerationConfig({ eosTokenId: [7, 3] });
    expect(c).toMatchObject({ maxLength: 20, doSample: false, temperature: 1, topK: 50, topP: 1, repetitionPenalty: 1, eosTokenIds: [7, 3], padTokenId: 7 });
  });

  it('loadGenerationConfig reads <dir>/generation_config.json, or gives null without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'q-gen-'));
    expect(await loadGenerationConfig(dir)).toBeNull();
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ do_sample: true, top_k: 20, transformers_version: '4.51.0' }));
    expect(await loadGenerationConfig(dir)).toEqual({ doSample: true, topK: 20 });
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ top_k: -1 }));
    await expect(loadGenerationConfig(dir)).rejects.toThrow(/generation_config.json: invalid value for "topK"/);
  });
});
