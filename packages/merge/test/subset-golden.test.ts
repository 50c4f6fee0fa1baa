// transformers loads merged folders made from adapters on a SUBSET of the projections, through each
// merge path (tools/golden/make-merged-subset.ts wrote them, tools/golden/merged_subset_golden.py
// loaded them with AutoModelForCausalLM): it must report no missing, unexpected or mismatched
// weight — nothing initialised at random — and give @q's logits. The in-memory and CLI cases are
// rebuilt here from their seeds and compared with transformers' logits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getDevice, keep, type QDevice } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, randomWeights } from '@q/model';
import { getPeftModel } from '@q/lora';
import { mergeAndUnload, saveMerged } from '../src';
import { SUBSET_CASES, subsetLlamaConfig, subsetQwen2Config } from '../../../tools/golden/subset-cases';

const FIXTURE = fileURLToPath(new URL('../fixtures/merged-subset-golden.json', import.meta.url));
interface Case {
  files: string[];
  missing_keys: string[];
  unexpected_keys: string[];
  mismatched_keys: string[][];
  ids: number[][];
  columns: number[];
  logits_at_columns: number[];
  logsumexp: number[];
  logits_abs_max: number;
  max_abs_diff_vs_q: number;
}
const golden = existsSync(FIXTURE) ? (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { transformers: string; cases: Record<string, Case> }) : null;
const Q4 = { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true };

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

it('the subset-adapter golden fixture is present', () => {
  // A missing fixture is a failure, not a skip: regenerate it with the two scripts above.
  expect(golden, FIXTURE).not.toBeNull();
});

describe.runIf(golden)(`subset-adapter merges loaded by transformers ${golden?.transformers ?? ''}`, () => {
  for (const name of ['inmemory-qkv', 'cli-qv', 'train-mlp']) {
    it(`${name}: no weight missing, unexpected or mismatched; transformers' logits equal @q's`, () => {
      const c = golden!.cases[name]!;
      expect(c.files).toContain('model.safetensors');
      expect([c.missing_keys, c.unexpected_keys, c.mismatched_keys]).toEqual([[], [], []]);
      // Recorded when the fixture was made: @q's logits of the same folder, every position and column.
      expect(c.max_abs_diff_vs_q / c.logits_abs_max).toBeLessThan(1e-5);
    });
  }

  const rebuild = {
    'inmemory-qkv': { cfg: subsetQwen2Config, c: SUBSET_CASES.inmemoryQkv, embedStd: undefined },
    'cli-qv': { cfg: subsetLlamaConfig, c: SUBSET_CASES.cliQv, embedStd: 0.3 },
  };
  for (const [name, { cfg: json, c, embedStd }] of Object.entries(rebuild)) {
    it(`${name}: @q's merge made again here gives transformers' logits`, async () => {
      const g = golden!.cases[name]!;
      const cfg = parseModelConfig(json, name);
      const base = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, c.weightSeed, c.std, embedStd ? { embedStd } : {}), quantizationConfig: Q4 });
      const peft = getPeftModel(base, { r: 4, lora_alpha: 8, target_modules: c.targets, init_lora_weights: false }, { seed: c.loraSeed });
      const { model } = await mergeAndUnload(peft, { dtype: 'float16' });
      const dir = mkdtempSync(join(tmpdir(), 'q-subset-golden-'));
      await saveMerged(model, dir, { dtype: 'float16' });
      model.release();
      const back = await AutoModelForCausalLM.fromPretrained(dir);
      const t = keep(back.logits({ inputIds: g.ids }));
      const L = (await t.read()) as Float32Array;
      t.release();
      back.release();
      const V = cfg.vocabSize;
      let diff = 0;
      for (let p = 0; p < g.logsumexp.length; p++) {
        let m = -Infinity;
        for (let v = 0; v < V; v++) m = Math.max(m, L[p * V + v]!);
        let s = 0;
        for (let v = 0; v < V; v++) s += Math.exp(L[p * V + v]! - m);
        diff = Math.max(diff, Math.abs(m + Math.log(s) - g.logsumexp[p]!));
        g.columns.forEach((col, k) => (diff = Math.max(diff, Math.abs(L[p * V + col]! - g.logits_at_columns[p * g.columns.length + k]!))));
      }
      expect(diff / g.logits_abs_max).toBeLessThan(1e-5);
    });
  }
});
