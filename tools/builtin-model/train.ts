/**
 * Trains the built-in model from scratch with @q's own SFTTrainer (full-parameter mode: every
 * tensor of a plain CausalLM gets gradients and AdamW updates), then measures it on the held-out
 * instructions and writes a Hugging Face folder (f16 safetensors).
 *
 *   stage 1  language modelling on the country profiles + the instruction set (loss on every token)
 *   stage 2  instruction tuning: the chat set only, loss on the assistant turns
 *
 * The number of steps follows a wall-clock budget: a short first run measures seconds per step.
 *
 *   node train.mjs --data <dir with *.jsonl> --tokenizer <dir> --out <dir> [--budget 200] [--batch 32]
 * (bundle: npx esbuild tools/builtin-model/train.ts --bundle --platform=node --format=esm --external:webgpu ...)
 */
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { getDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, parseModelConfig, randomWeights, savePretrained, type CausalLM } from '@q/model';
import { SFTTrainer, silentProgress } from '@q/sft';
import { evaluateModel, type EvalSample } from '../../packages/qlora/src/run/evaluate';
import { BUILTIN_LLAMA_CONFIG, BUILTIN_GENERATION_CONFIG } from './model-config';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

const dataDir = arg('data', 'tools/builtin-model/data');
const tokDir = arg('tokenizer', 'packages/qlora/builtin');
const outDir = arg('out', '/tmp/builtin-model');
const budget = Number(arg('budget', '200'));
const batch = Number(arg('batch', '32'));
const maxLength = Number(arg('max-length', '256'));
const evalRows = Number(arg('eval-rows', '100000'));
const seed = Number(arg('seed', '0'));
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
const log = (m: string) => console.log(`[${elapsed().toFixed(1)}s] ${m}`);

function readJsonl(f: string): Record<string, unknown>[] {
  return readFileSync(join(dataDir, f), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const pretrain = readJsonl('pretrain.jsonl');
const instructTrain = readJsonl('instruct-train.jsonl');
const instructTest = readJsonl('instruct-test.jsonl').slice(0, evalRows);
const tokenizer = await AutoTokenizer.fromPretrained(tokDir);
const dev = await getDevice();
log(`device: ${dev.info.description}; ${pretrain.length} profiles, ${instructTrain.length} instructions, ${instructTest.length} held out`);

const cfg = parseModelConfig({ ...BUILTIN_LLAMA_CONFIG }, 'built-in model');
const model: CausalLM = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, seed, 0.02), dev });
const params = model.namedParameters().reduce((a, [, t]) => a + t.size, 0);
log(`model: ${params.toLocaleString()} parameters`);

const trainLog: Record<string, unknown>[] = [];
async function stage(name: string, rows: Record<string, unknown>[], steps: number, lr: number, assistantOnly: boolean, warmup: number): Promise<number> {
  const t = Date.now();
  const trainer = new SFTTrainer({
    model,
    tokenizer,
    trainDataset: rows,
    args: {
      outputDir: join('/tmp', `builtin-${name}`),
      perDeviceTrainBatchSize: batch,
      maxLength,
      packing: true,
      assistantOnlyLoss: assistantOnly,
      learningRate: lr,
      lrSchedulerType: 'cosine',
      warmupSteps: warmup,
      weightDecay: 0.01,
      maxGradNorm: 1.0,
      maxSteps: steps,
      loggingSteps: Math.max(1, Math.floor(steps / 25)),
      saveStrategy: 'no',
      gradientCheckpointing: false,
      seed,
    },
    progress: silentProgress,
    warn: () => {},
    onLog: (e) => trainLog.push({ stage: name, ...e }),
  });
  const r = await trainer.train();
  const s = (Date.now() - t) / 1000;
  log(`${name}: ${steps} steps in ${s.toFixed(1)} s (${(s / steps).toFixed(3)} s/step, ${Math.round(r.metrics.trainTokensPerSecond)} tok/s), loss ${trainLog.filter((e) => e.stage === name && e.loss !== undefined).map((e) => (e.loss as number).toFixed(3)).join(' ')}`);
  return s / steps;
}

// Stage 1 in two runs: a short warm-up at a low learning rate (it also measures the step time),
// then the main run. Stage 2 instruction-tunes with the profiles replayed, so the facts read in
// stage 1 are not forgotten: the held-out questions are answered from them.
// --fixed-steps a,b,c sets the three runs' steps (a CPU smoke test: --fixed-steps 1,1,1).
const lmRows = [...pretrain, ...instructTrain];
const fixed = arg('fixed-steps', '').split(',').filter(Boolean).map(Number);
const calib = fixed[0] ?? 10;
const perStep = await stage('warmup', lmRows, calib, 3e-4, false, 0);
const stage1 = fixed[1] ?? Math.max(10, Math.floor((budget * 0.85 - elapsed()) / perStep));
await stage('pretrain', lmRows, stage1, 3e-3, false, Math.ceil(stage1 * 0.03));
// A copy of the stage-1 model first: if the run is cut short, there is still a model to look at.
if (process.argv.includes('--save-stage1')) await savePretrained(model, outDir, { dtype: 'float16', maxShardSize: 15 * 2 ** 20, generationConfig: BUILTIN_GENERATION_CONFIG });
const stage2 = fixed[2] ?? Math.max(10, Math.floor((budget - elapsed()) / perStep));
await stage('instruct', lmRows, stage2, 5e-4, true, Math.ceil(stage2 * 0.03));
const trainSeconds = elapsed();

const byRelation = (samples: EvalSample[], rows: Record<string, unknown>[]) => {
  const out: Record<string, string> = {};
  for (const rel of [...new Set(rows.map((r) => String(r.relation)))]) {
    const idx = rows.map((r, i) => (r.relation === rel ? i : -1)).filter((i) => i >= 0);
    out[rel] = `${idx.filter((i) => samples[i]!.correct).length}/${idx.length}`;
  }
  return out;
};
const heldOut = await evaluateModel(model, tokenizer, instructTest, { batchSize: 32, maxNewTokens: 48 });
const seenRows = instructTrain.filter((_, i) => i % 15 === 0).slice(0, evalRows);
const seen = await evaluateModel(model, tokenizer, seenRows, { batchSize: 32, maxNewTokens: 48 });
const report: Record<string, unknown> = {
  config: cfg.raw,
  parameters: params,
  steps: { warmup: calib, pretrain: stage1, instruct: stage2, batch, maxLength },
  trainSeconds,
  heldOut: { rows: heldOut.rows, loss: heldOut.loss, perplexity: heldOut.perplexity, exactMatch: heldOut.exactMatch, byRelation: byRelation(heldOut.samples, instructTest) },
  seen: { rows: seen.rows, loss: seen.loss, perplexity: seen.perplexity, exactMatch: seen.exactMatch },
  samples: heldOut.samples,
};
log(`held-out: loss ${heldOut.loss.toFixed(3)}, perplexity ${heldOut.perplexity.toFixed(2)}, exact match ${(100 * heldOut.exactMatch!).toFixed(1)}% ${JSON.stringify(report.heldOut.byRelation)}`);
log(`seen instructions: exact match ${(100 * seen.exactMatch!).toFixed(1)}%`);
for (const s of heldOut.samples.slice(0, 12)) log(`  ${s.correct ? 'ok ' : 'BAD'} ${s.question} -> ${JSON.stringify(s.answer)}`);

mkdirSync(outDir, { recursive: true });
// Shards under 15 MiB: the device machine returns files of at most 16 MiB.
await savePretrained(model, outDir, { dtype: 'float16', maxShardSize: 15 * 2 ** 20, generationConfig: BUILTIN_GENERATION_CONFIG });
report.totalSeconds = elapsed();
writeFileSync(join(outDir, 'eval.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(outDir, 'train_log.jsonl'), trainLog.map((e) => JSON.stringify(e)).join('\n') + '\n');
if (process.argv.includes('--copy-tokenizer')) for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tokDir, f), join(outDir, f));
log(`saved ${outDir}`);
model.release();
dev.dispose();
