/**
 * Model load, forward (prefill) tokens/s and greedy decode tokens/s at batch 1 on Qwen2.5-0.5B's
 * shape (random weights, f32 dense, the merged model of the seed's step 7). Anchor: transformers'
 * generate on the same card (../shared/reference/hf_peft_baseline.py).
 *   node decode.mjs [--layers 24] [--new 64] [--json out.json]
 */
import { getDevice, keep } from '@q/core';
import { AutoModelForCausalLM, generate } from '@q/model';
import { qwen05Config, fastWeights } from './qwen-shape';
import { writeJson, adapterSlug, isCpuAdapter } from './harness';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const dev = await getDevice();
const cpu = isCpuAdapter(dev);
const layers = Number(arg('layers', cpu ? '2' : '24'));
const newTokens = Number(arg('new', cpu ? '8' : '64'));
// A CPU adapter's 128 MiB binding limit cannot hold the 151k x 896 embedding.
const cfg = qwen05Config(layers, Number(arg('vocab', cpu ? '32000' : '151936')));
const weights = fastWeights(cfg);
const t0 = performance.now();
const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
await dev.sync();
const loadSeconds = (performance.now() - t0) / 1000;
const prompt = [Array.from({ length: 32 }, (_, t) => (t * 104729) % cfg.vocabSize)];
// Prefill throughput: one forward over 512 tokens.
const long = [Array.from({ length: cpu ? 64 : 512 }, (_, t) => (t * 7919) % cfg.vocabSize)];
keep(model.logits({ inputIds: long })).release();
await dev.sync();
const t1 = performance.now();
const reps = cpu ? 1 : 5;
for (let i = 0; i < reps; i++) keep(model.logits({ inputIds: long })).release();
await dev.sync();
const prefillTps = (reps * long[0]!.length) / ((performance.now() - t1) / 1000);
await generate(model, prompt, { maxNewTokens: 4 }); // warm-up
const g0 = { ...dev.groupStats };
const t2 = performance.now();
const out = await generate(model, prompt, { maxNewTokens: newTokens, eosTokenId: null });
const decodeSec = (performance.now() - t2) / 1000;
console.log(`bind groups during decode: ${dev.groupStats.hits - g0.hits} hits, ${dev.groupStats.misses - g0.misses} misses`);
const generated = out[0]!.length - prompt[0]!.length;
let gpuMsPerToken: number | null = null;
let topKernels: { name: string; calls: number; ms: number }[] = [];
if (dev.startProfiling()) {
  await generate(model, prompt, { maxNewTokens: 16, eosTokenId: null });
  const k = await dev.stopProfiling();
  gpuMsPerToken = k.reduce((a, x) => a + x.ms, 0) / 16;
  topKernels = k.slice(0, 8).map((x) => ({ name: x.name, calls: x.calls, ms: Number(x.ms.toFixed(2)) }));
}
const r = { layers, loadSeconds, prefillTokensPerSecond: prefillTps, newTokens: generated, decodeTokensPerSecond: generated / decodeSec, gpuMsPerToken, topKernels };
console.log(JSON.stringify(r));
writeJson(arg('json', `results/decode-${adapterSlug(dev)}.json`), { device: dev.info, result: r });
model.release();
dev.dispose();
