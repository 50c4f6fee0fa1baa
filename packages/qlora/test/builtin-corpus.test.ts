// The built-in model's data (tools/builtin-model/corpus.mjs): the same input gives the same bytes,
// the held-out questions are never trained on but their facts are in the pretraining text, and the
// committed files are what the script writes (their hashes are in the manifest it writes).
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain ESM script of the repository's tools, without type declarations
import { buildCorpus, countryFacts, jsonl, RELATIONS, PERSONA } from '../../../tools/builtin-model/corpus.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));

// A small input in the package's JSON shapes (countries-list 3.4.1).
const data = {
  continents: { EU: 'Europe', SA: 'South America', AS: 'Asia' },
  currencies: { EUR: { name: 'Euro' }, PEN: { name: 'Peruvian Sol' }, JPY: { name: 'Japanese Yen' }, CLP: { name: 'Chilean Peso' } },
  languages: { fr: { name: 'French' }, es: { name: 'Spanish' }, ja: { name: 'Japanese' }, de: { name: 'German' } },
  countries: {
    FR: { name: 'France', capital: 'Paris', continent: 'EU', currency: ['EUR'], languages: ['fr'] },
    PE: { name: 'Peru', capital: 'Lima', continent: 'SA', currency: ['PEN'], languages: ['es'] },
    JP: { name: 'Japan', capital: 'Tokyo', continent: 'AS', currency: ['JPY'], languages: ['ja'] },
    CL: { name: 'Chile', capital: 'Santiago', continent: 'SA', currency: ['CLP'], languages: ['es'] },
    DE: { name: 'Germany', capital: 'Berlin', continent: 'EU', currency: ['EUR'], languages: ['de'] },
    AQ: { name: 'Antarctica', capital: '', continent: 'AN', currency: [], languages: [] },
  },
};
const opts = { testFraction: 0.25, demoTrain: 3, demoTest: 2 };

describe('built-in corpus', () => {
  it('keeps countries with every fact, in code order', () => {
    expect(countryFacts(data).map((c: { code: string }) => c.code)).toEqual(['CL', 'DE', 'FR', 'JP', 'PE']);
    expect(countryFacts(data)[4]).toEqual({ code: 'PE', name: 'Peru', capital: 'Lima', continent: 'South America', currency: 'Peruvian Sol', language: 'Spanish' });
  });

  it('is deterministic: the same input gives the same bytes', () => {
    const a = buildCorpus(data, opts);
    const b = buildCorpus(data, opts);
    for (const k of ['pretrain', 'instructTrain', 'instructTest', 'demoTrain', 'demoTest']) expect(jsonl(a[k])).toBe(jsonl(b[k]));
    expect(jsonl(buildCorpus(data, { ...opts, seed: 14 }).pretrain)).not.toBe(jsonl(a.pretrain));
  });

  it('holds out (country, relation) pairs whose facts are in the pretraining text only', () => {
    const c = buildCorpus(data, opts);
    expect(c.instructTest).toHaveLength(5); // 25% of 5 countries x 4 relations
    const trainAnswers = new Set(c.instructTrain.map((r: { messages: { content: string }[] }) => r.messages[1]!.content));
    const text = c.pretrain.map((r: { text: string }) => r.text).join('\n');
    for (const r of c.instructTest) {
      const answer = r.messages[1].content;
      expect(trainAnswers.has(answer), answer).toBe(false);
      expect(text.includes(answer), answer).toBe(true);
      expect(Object.keys(RELATIONS)).toContain(r.relation);
    }
    // Every other pair is trained, asked two ways.
    expect(c.instructTrain).toHaveLength(2 * 15);
  });

  it('builds the persona set from countries whose capital and continent were tuned on', () => {
    const c = buildCorpus(data, opts);
    const rows = [...c.demoTrain, ...c.demoTest];
    expect(rows.length).toBeGreaterThan(0);
    const trainQs = new Set(c.instructTrain.map((r: { messages: { content: string }[] }) => r.messages[1]!.content));
    for (const r of rows) {
      const a = r.messages[1].content as string;
      // Two answers the model was instruction-tuned on, in one reply.
      const m = /^(The capital of (.+) is .+\.) (\2 is in .+\.)$/.exec(a)!;
      expect(m, a).not.toBeNull();
      expect(trainQs.has(m[1]!), a).toBe(true);
      expect(trainQs.has(m[3]!), a).toBe(true);
      expect(r.messages[0].content).toBe(`What is the capital of ${m[2]}?`);
    }
    expect(PERSONA.capital({ name: 'Peru', capital: 'Lima', continent: 'South America' })).toBe('The capital of Peru is Lima. Peru is in South America.');
  });

  it('the committed data files are the ones the script wrote', () => {
    const manifest = JSON.parse(readFileSync(`${root}tools/builtin-model/data/manifest.json`, 'utf8')) as { files: Record<string, { rows: number; sha256: string }> };
    expect(Object.keys(manifest.files)).toHaveLength(4);
    for (const [file, { rows, sha256 }] of Object.entries(manifest.files)) {
      const text = readFileSync(`${root}${file}`, 'utf8');
      expect(createHash('sha256').update(text).digest('hex'), file).toBe(sha256);
      expect(text.split('\n').length - 1, file).toBe(rows);
    }
  });
});
