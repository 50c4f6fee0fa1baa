/**
 * Generation speed on Qwen2.5-0.5B's shape (random weights; speed does not depend on values):
 *   greedy batch 1, merged (dense) f32 model: fused decoder (weights streamed as f16 or f32), eager
 *   the merged model in float16: greedy and sampling batch 1, greedy batch 32 and 64, fused
 *   greedy batch 1, NF4 base + unmerged r=64 LoRA on q/k/v (the model right after QLoRA training)
 *   prefill of 512 tokens (f32 and f16 models)
 *   continuous batching: 96 prompts of 16-64 tokens with their own budgets through 32 slots (f16, fused)
 * Per case: new tokens/s (wall), wall ms per token, GPU ms per token (timestamp queries around each
 * step's command buffer; for the eager path, the sum of its kernels' times) and dispatches per
 * token. Anchor: transformers' generate on the same card (../shared/reference/hf_peft_baseline.py).
 *   node decode.mjs [--layers 24] [--new 128] [--json out.json]
 */
import { getDevice, keep, type QDevice } from '@q/core';
import { AutoModelForCausalLM, generateContinuous, type CausalLM, type FusedDecoder, type GenerateOptions } from '@q/model';
import { getPeftModel } from '@q/lora';
import { qwen05Config, fastWeights } from './qwen-shape';
import { writeJson, adapterSlug, isCpuAdapter } from './harness';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const dev = await getDevice();
const cpu = isCpuAdapter(dev);
const layers = Number(arg('layers', cpu ? '2' : '24'));
const newTokens = Number(arg('new', cpu ? '8' : '128'));
// A CPU adapter's 128 MiB binding limit cannot hold the 151k x 896 embedding.
const cfg = qwen05Config(layers, Number(arg('vocab', cpu ? '32000' : '151936')));
const weights = fastWeights(cfg);
const promptOf = (b: number) => Array.from({ length: 32 }, (_, t) => (t * 104729 + b * 7919) % cfg.vocabSize);

interface Case {
  name: string;
  batch: number;
  newTokens: number;
  tokensPerSecond: number;
  wallMsPerToken: number;
  gpuMsPerToken: number | null;
  dispatchesPerToken: number | null;
  decoder: string;
}
const cases: Case[] = [];

/** Times generate() (after one warm-up call that compiles everything) and, separately, its GPU time. */
async function measure(name: string, model: CausalLM, batch: number, o: GenerateOptions): Promise<void> {
  const prompts = Array.from({ length: batch }, (_, b) => promptOf(b));
  const opts: GenerateOptions = { maxNewTokens: newTokens, eosTokenId: null, padTokenId: 0, ...o };
  await model.generateWithDetails(prompts, { ...opts, maxNewTokens: 4 });
  await dev.sync();
  let fused: { gpu: number | null; dispatches: number } | null = null;
  const t0 = performance.now();
  const out = await model.generateWithDetails(prompts, {
    ...opts,
    onDecoder: async (d: FusedDecoder) => void (fused = { gpu: await d.gpuMs(), dispatches: d.dispatchesPerStep + 1 }),
  });
  const sec = (performance.now() - t0) / 1000;
  const steps = out.newTokens[0]!.length;
  let gpuMsPerToken: number | null = null;
  let dispatchesPerToken: number | null = null;
  if (fused) {
    ({ gpu: gpuMsPerToken, dispatches: dispatchesPerToken } = fused);
  } else if (dev.startProfiling()) {
    // Eager path: every kernel timed (one pass each), over a short run; prefill excluded by difference.
    await model.generate(prompts, { ...opts, maxNewTokens: 1 });
    const k1 = await dev.stopProfiling();
    dev.startProfiling();
    await model.generate(prompts, { ...opts, maxNewTokens: 17 });
    const k2 = await dev.stopProfiling();
    const sum = (k: { ms: number; calls: number }[], f: 'ms' | 'calls') => k.reduce((a, x) => a + x[f], 0);
    gpuMsPerToken = (sum(k2, 'ms') - sum(k1, 'ms')) / 16;
    dispatchesPerToken = (sum(k2, 'calls') - sum(k1, 'calls')) / 16;
  }
  const c: Case = {
    name, batch, newTokens: steps * batch, tokensPerSecond: (steps * batch) / sec, wallMsPerToken: (sec * 1000) / steps,
    gpuMsPerToken, dispatchesPerToken, decoder: fused ? 'fused' : 'eager',
  };
  cases.push(c);
  console.log(JSON.stringify(c));
  save(); // after every case, so a run cut short still leaves its figures
}

/**
 * Continuous batching: `count` prompts of 16-64 tokens, each with its own budget (maxLength), through
 * `slots` rows; new tokens/s over the whole run, GPU ms and dispatches per decode step.
 */
async function measureContinuous(name: string, model: CausalLM, slots: number, count: number): Promise<void> {
  const prompts = Array.from({ length: count }, (_, i) => promptOf(i).concat(promptOf(i + count)).slice(0, 16 + ((i * 37) % 49)));
  const opts: GenerateOptions = { maxLength: 64 + newTokens, eosTokenId: null, padTokenId: 0, doSample: false, decoder: 'fused' };
  await generateContinuous(model, prompts.slice(0, slots + 2), slots, { ...opts, maxLength: 72 });
  await dev.sync();
  let fused: { gpu: number | null; dispatches: number } | null = null;
  const t0 = performance.now();
  const out = await generateContinuous(model, prompts, slots, {
    ...opts,
    onDecoder: async (d: FusedDecoder) => void (fused = { gpu: await d.gpuMs(), dispatches: d.dispatchesPerStep + 1 }),
  });
  const sec = (performance.now() - t0) / 1000;
  const total = out.newTokens.reduce((a, t) => a + t.length, 0);
  const f = fused as { gpu: number | null; dispatches: number } | null;
  const c: Case = {
    name, batch: slots, newTokens: total, tokensPerSecond: total / sec, wallMsPerToken: (sec * 1000 * slots) / total,
    gpuMsPerToken: f?.gpu ?? null, dispatchesPerToken: f?.dispatches ?? null, decoder: 'fused, continuous',
  };
  cases.push(c);
  console.log(JSON.stringify(c));
  save();
}

function save(): void {
  const result = { layers, loadSeconds, prefillTokensPerSecond, prefillF16TokensPerSecond, prefillProfile, prefillF16Profile, cases };
  writeJson(arg('json', `results/decode-${adapterSlug(dev as QDevice)}.json`), { device: dev.info, result });
}

let loadSeconds = 0;
let prefillF16TokensPerSecond: number | null = null;
let prefillTokensPerSecond = 0;
type PrefillProfile = { gpuMs: number; dispatches: number; top: { name: string; ms: number; calls: number }[] } | null;
let prefillProfile: PrefillProfile = null;
let prefillF16Profile: PrefillProfile = null;

/** One prefill forward with every kernel timed: its GPU ms, dispatches and the five costliest kernels. */
async function profilePrefill(m: CausalLM): Promise<PrefillProfile> {
  if (!dev.startProfiling()) return null;
  keep(m.logits({ inputIds: long, lastOnly: true })).release();
  const k = await dev.stopProfiling();
  const top = [...k].sort((a, b) => b.ms - a.ms).slice(0, 5).map((x) => ({ name: x.name, ms: x.ms, calls: x.calls }));
  return { gpuMs: k.reduce((a, x) => a + x.ms, 0), dispatches: k.reduce((a, x) => a + x.calls, 0), top };
}
const t0 = performance.now();
const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
await dev.sync();
loadSeconds = (performance.now() - t0) / 1000;

// Prefill throughput: one forward over 512 tokens (logits of the last position only, as generate does).
const long = [Array.from({ length: cpu ? 64 : 512 }, (_, t) => (t * 7919) % cfg.vocabSize)];
keep(model.logits({ inputIds: long, lastOnly: true })).release();
await dev.sync();
const t1 = performance.now();
const reps = cpu ? 1 : 5;
for (let i = 0; i < reps; i++) keep(model.logits({ inputIds: long, lastOnly: true })).release();
await dev.sync();
prefillTokensPerSecond = (reps * long[0]!.length) / ((performance.now() - t1) / 1000);
prefillProfile = await profilePrefill(model);
console.log(JSON.stringify({ prefillTokensPerSecond, prefillProfile }));

const f16 = dev.info.f16;
await run('greedy b1 f32 model fused-f16', () => measure('greedy b1 f32 model, fused, weights streamed as f16', model, 1, { decoder: 'fused', decodeWeightDtype: 'f16' }), f16);
await run('greedy b1 f32 model fused-f32', () => measure('greedy b1 f32 model, fused, f32 weights', model, 1, { decoder: 'fused' }));
await run('greedy b1 f32 model eager', () => measure('greedy b1 f32 model, eager (op by op)', model, 1, { decoder: 'eager', maxNewTokens: Math.min(newTokens, 64) }));
model.release();

// The merged model in float16 (fromPretrained's dtype 'float16'): the "f16 merged" rows.
await run('f16 model', async () => {
  const m16 = await AutoModelForCausalLM.fromConfig(cfg, { weights, dtype: 'float16' });
  try {
    keep(m16.logits({ inputIds: long, lastOnly: true })).release();
    await dev.sync();
    const t = performance.now();
    for (let i = 0; i < reps; i++) keep(m16.logits({ inputIds: long, lastOnly: true })).release();
    await dev.sync();
    prefillF16TokensPerSecond = (reps * long[0]!.length) / ((performance.now() - t) / 1000);
    prefillF16Profile = await profilePrefill(m16);
    console.log(JSON.stringify({ prefillF16TokensPerSecond, prefillF16Profile }));
    await run('greedy b1 f16', () => measure('greedy b1 f16 merged model, fused', m16, 1, { decoder: 'fused' }));
    await run('sampling b1 f16', () => measure('sampling b1 f16 merged model (T 0.7, top-k 20, top-p 0.8), fused', m16, 1, { decoder: 'fused', doSample: true, temperature: 0.7, topK: 20, topP: 0.8, seed: 1 }));
    await run('greedy b32 f16', () => measure('greedy b32 f16 merged model, fused', m16, 32, { decoder: 'fused' }));
    await run('greedy b64 f16', () => measure('greedy b64 f16 merged model, fused', m16, 64, { decoder: 'fused' }));
    await run('continuous b32 f16', () => measureContinuous('continuous batching, 96 prompts (16-64 tokens, own budgets) in 32 slots, f16 merged model, fused', m16, 32, 96));
  } finally {
    m16.release();
  }
}, f16);

// NF4 base + unmerged r=64 LoRA on q/k/v (sft-step's adapter).
await run('nf4 + lora', async () => {
  const base = await AutoModelForCausalLM.fromConfig(cfg, {
    weights,
    quantizationConfig: { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true, bnb_4bit_compute_dtype: 'float16' },
  });
  const peft = getPeftModel(base, { r: 64, lora_alpha: 32, lora_dropout: 0.1, target_modules: ['q_proj', 'k_proj', 'v_proj'] });
  peft.eval(); // generation: LoRA dropout off (the fused decoder refuses training mode)
  try {
    await measure('greedy b1 NF4 + unmerged r=64 LoRA (q/k/v), fused, f16 lm_head', base, 1, { decoder: 'fused', decodeWeightDtype: f16 ? 'f16' : 'f32' });
    await measure('greedy b1 NF4 + unmerged r=64 LoRA (q/k/v), eager', base, 1, { decoder: 'eager', maxNewTokens: Math.min(newTokens, 64) });
  } finally {
    peft.release(); // the base's buffers too
  }
});

async function run(what: string, f: () => Promise<void>, when = true): Promise<void> {
  if (!when) return void console.log(`${what}: skipped (no shader-f16)`);
  try {
    await f();
  } catch (e) {
    console.log(`${what}: FAILED ${(e as Error).stack ?? e}`);
    cases.push({ name: `${what} (failed: ${(e as Error).message})`, batch: 0, newTokens: 0, tokensPerSecond: 0, wallMsPerToken: 0, gpuMsPerToken: null, dispatchesPerToken: null, decoder: 'none' });
  }
}

save();
dev.dispose();
