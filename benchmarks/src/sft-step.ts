/**
 * QLoRA SFT steps at the seed's settings on Qwen2.5-0.5B's shape, the same workload as
 * ../shared/reference/hf_peft_baseline.py: NF4 double-quantized base, LoRA r=64 α=32 dropout 0.1
 * on q/k/v, batch 2 × 512 tokens, 4 accumulation steps, AdamW, with and without gradient
 * checkpointing. Reports tokens/s and peak GPU memory.
 *   node sft-step.mjs [--layers 24] [--seq 512] [--steps 3] [--precision f32,fp16] [--checkpointing on,off]
 *                     [--attn flash|composed] [--tc-medium 64] [--tc-large 264] [--profile] [--json out.json]
 * `--precision` lists the precisions to run (default f32): fp16 computes activations in f16 and
 * scales the loss with a GradScaler, as SFTTrainer does with fp16: true. `--attn` picks the
 * attention kernels (default auto: composed at this shape, see attentionSettings).
 */
import { backward, getDevice, keep, tidy, zeros, scale, attentionSettings } from '@q/core';
import { addInPlace, tensorCoreThresholds } from '@q/core/kernel';
import { AutoModelForCausalLM } from '@q/model';
import { getPeftModel, prepareModelForKbitTraining } from '@q/lora';
import { AdamW, clipGradNorm, GradScaler } from '@q/optim';
import { qwen05Config, fastWeights } from './qwen-shape';
import { writeJson, adapterSlug, isCpuAdapter } from './harness';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};

// --toggles a,b: extra Dawn toggles (tuning runs), added to @q's own.
const extra = arg('toggles', '');
const dev = await getDevice(extra ? { toggles: extra.split(',') } : {});
const cpu = isCpuAdapter(dev);
const layers = Number(arg('layers', cpu ? '2' : '24'));
const T = Number(arg('seq', cpu ? '64' : '512'));
const B = 2;
const accum = 4;
const steps = Number(arg('steps', cpu ? '1' : '3'));
// A CPU adapter's 128 MiB binding limit cannot hold the 151k x 896 embedding.
const cfg = qwen05Config(layers, Number(arg('vocab', cpu ? '32000' : '151936')));
const weights = fastWeights(cfg);
const results: Record<string, unknown>[] = [];
const precisions = arg('precision', 'f32').split(',') as ('f32' | 'fp16')[];
attentionSettings.impl = arg('attn', 'auto') as 'auto' | 'flash' | 'composed';
// Tile-choice thresholds (tuning runs): 128x128 output tiles from which the medium / large tensor-core shapes apply.
tensorCoreThresholds.medium = Number(arg('tc-medium', String(tensorCoreThresholds.medium)));
tensorCoreThresholds.large = Number(arg('tc-large', String(tensorCoreThresholds.large)));

const ckpts = arg('checkpointing', 'on,off').split(',').map((c) => c === 'on');

for (const precision of precisions)
for (const checkpointing of ckpts) {
  const t0 = performance.now();
  const base = await AutoModelForCausalLM.fromConfig(cfg, {
    weights,
    quantizationConfig: { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true, bnb_4bit_compute_dtype: 'float16' },
  });
  const loadS = (performance.now() - t0) / 1000;
  prepareModelForKbitTraining(base, { useGradientCheckpointing: checkpointing });
  base.setComputeDtype(precision === 'fp16' ? 'f16' : 'f32');
  const scaler = precision === 'fp16' ? new GradScaler() : null;
  let skipped = 0;
  const peft = getPeftModel(base, { r: 64, lora_alpha: 32, lora_dropout: 0.1, target_modules: ['q_proj', 'k_proj', 'v_proj'] });
  const opt = new AdamW(peft.trainableParameters(), { lr: 2e-4 });
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729) % cfg.vocabSize));
  const step = async () => {
    const loss = keep(zeros([]));
    for (let m = 0; m < accum; m++) {
      peft.seedDropout(m);
      tidy(() => {
        const out = peft.forward({ inputIds: ids, labels: ids, lossNormalizer: B * (T - 1) * accum });
        backward(scaler ? scale(out.loss!, scaler.getScale()) : out.loss!);
        addInPlace(loss, out.loss!);
      });
    }
    const inv = scaler ? scaler.invScale() : 1;
    const clip = clipGradNorm(opt.parameters(), 1.0, { gradScale: inv });
    if (scaler) {
      // As SFTTrainer: an overflow skips the update and halves the scale (one 4-byte readback).
      const finite = await clip.isFinite();
      if (finite) opt.step({ lr: 2e-4, gradScale: inv, gradScaleTensor: clip.coef });
      else skipped++;
      scaler.update(!finite);
    } else opt.step({ lr: 2e-4, gradScale: clip.coef });
    clip.release();
    opt.zeroGrad();
    const v = await loss.item();
    loss.release();
    return v;
  };
  const liveAfterLoad = dev.memory().liveBytes;
  await step(); // warm-up: pipelines compile here
  const liveAtRest = dev.memory().liveBytes;
  dev.pool.resetPeak();
  const g0 = { ...dev.groupStats };
  const t1 = performance.now();
  let last = 0;
  for (let s = 0; s < steps; s++) last = await step();
  const sec = (performance.now() - t1) / 1000;
  // Bind groups created vs reused per step (host cost: a created one costs a native call).
  const bindGroups = { created: (dev.groupStats.misses - g0.misses) / steps, reused: (dev.groupStats.hits - g0.hits) / steps };
  let kernels: { name: string; calls: number; ms: number }[] = [];
  let profiled: { kernelMs: number; dispatches: number; stepMs: number } | undefined;
  if (process.argv.includes('--profile') && dev.startProfiling()) {
    // One profiled step: every kernel's GPU time (timestamps) against the step's wall time; the
    // difference is launch gaps and host work.
    const p0 = performance.now();
    await step();
    const all = await dev.stopProfiling();
    profiled = { kernelMs: all.reduce((a, k) => a + k.ms, 0), dispatches: all.reduce((a, k) => a + k.calls, 0), stepMs: performance.now() - p0 };
    kernels = all.slice(0, 30).map((k) => ({ name: k.name, calls: k.calls, ms: Number(k.ms.toFixed(2)) }));
    console.log(kernels.slice(0, 14).map((k) => `${k.name.padEnd(28)} ${String(k.calls).padStart(6)} ${k.ms.toFixed(1).padStart(9)} ms`).join('\n'));
  }
  const r = {
    config: `nf4 base, LoRA r=64 q/k/v, ${checkpointing ? 'gradient checkpointing' : 'no checkpointing'}${precision === 'fp16' ? ', fp16' : ''}`,
    precision,
    attention: attentionSettings.impl,
    tensorCoreThresholds: { ...tensorCoreThresholds },
    skippedSteps: skipped,
    lossScale: scaler?.getScale(),
    layers,
    batch: B,
    seq: T,
    accumulation: accum,
    tokensPerSecond: (steps * B * T * accum) / sec,
    secondsPerStep: sec / steps,
    peakGpuGiB: dev.memory().peakBytes / 2 ** 30,
    // What is resident between steps (weights, adapters, optimizer state) vs the peak of a step.
    liveAfterLoadGiB: liveAfterLoad / 2 ** 30,
    liveAtRestGiB: liveAtRest / 2 ** 30,
    loadSeconds: loadS,
    loss: last,
    profiled,
    bindGroups,
    topKernels: kernels,
  };
  console.log(JSON.stringify(r));
  results.push(r);
  opt.release();
  peft.release();
}
const out = arg('json', `results/sft-step-${adapterSlug(dev)}.json`);
writeJson(out, { device: dev.info, results });
dev.dispose();
