/**
 * -bnb-4bit checkpoints written by @q's CLI (`qlora quantize`), with @q's own logits for them: the
 * inputs of tools/golden/bnb_checkpoint.py, which loads each folder in transformers + bitsandbytes
 * and compares logits.
 *
 *   <out>/base/          a tiny Qwen2 (GQA, q/k/v biases, tied embeddings), float32 safetensors
 *   <out>/nf4-dq/        qlora quantize --quant-type nf4 --double-quant
 *   <out>/fp4/           qlora quantize --quant-type fp4
 *   <out>/q-logits.json  the batch and @q's float32 logits for each folder, loaded back by @q
 *
 * In-features are multiples of 64 (bitsandbytes' default blocksize). Run here (lavapipe is enough):
 *   node scripts/bundle-node.mjs tools/golden/make-bnb-checkpoint.ts .tmp/make-bnb-checkpoint.mjs
 *     && node .tmp/make-bnb-checkpoint.mjs <out>
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable, Readable } from 'node:stream';
import { getDevice } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, randomWeights, saveModelFolder } from '@q/model';
import { buildProgram } from '../../packages/qlora/src/cli/program';

const CONFIG = {
  model_type: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  vocab_size: 300,
  hidden_size: 128,
  intermediate_size: 192,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  use_sliding_window: false,
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: 'float32',
};
const SEED = 5;
/** Right-padded batch: row 1 has two padding positions. */
const INPUT_IDS = [
  [5, 17, 42, 99, 250, 3, 7, 150],
  [8, 1, 299, 64, 12, 33, 0, 0],
];
const ATTENTION_MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 0, 0],
];

function sinkIO() {
  let err = '';
  const sink = (add: (s: string) => void) => new Writable({ write: (c, _e, cb) => (add(String(c)), cb()) });
  return { stdout: sink((s) => process.stdout.write(s)), stderr: sink((s) => (err += s)), stdin: Readable.from([]), err: () => err };
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node make-bnb-checkpoint.mjs <out-dir>');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const dev = await getDevice();
  try {
    const cfg = parseModelConfig(CONFIG, 'config');
    const w = randomWeights(cfg, SEED, 0.08, { embedStd: 0.5 });
    const entries = Object.entries(w).map(([n, e]) => [n, e.shape, async () => e.data as Float32Array] as [string, number[], () => Promise<Float32Array>]);
    await saveModelFolder(join(out, 'base'), cfg, entries, { dtype: 'float32' });
    const folders: Record<string, string[]> = {
      'nf4-dq': ['--quant-type', 'nf4', '--double-quant'],
      fp4: ['--quant-type', 'fp4'],
    };
    const logits: Record<string, number[]> = {};
    for (const [name, flags] of Object.entries(folders)) {
      const io = sinkIO();
      await buildProgram(io as never).exitOverride().parseAsync(['quantize', '--model', join(out, 'base'), '--out', join(out, name), ...flags], { from: 'user' });
      const model = await AutoModelForCausalLM.fromPretrained(join(out, name), { dev });
      const t = model.logits({ inputIds: INPUT_IDS, attentionMask: ATTENTION_MASK });
      logits[name] = Array.from(await t.read());
      t.release();
      model.release();
      console.log(`${name}: ${logits[name]!.length} logits`);
    }
    await writeFile(
      join(out, 'q-logits.json'),
      JSON.stringify({ config: CONFIG, seed: SEED, input_ids: INPUT_IDS, attention_mask: ATTENTION_MASK, vocab: CONFIG.vocab_size, logits }),
    );
    console.log(`wrote ${out}`);
  } finally {
    dev.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
