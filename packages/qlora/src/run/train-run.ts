/**
 * `qlora train`: the seed tutorial's seven steps from one config.
 *   1. load and split the dataset      4. TrainingArguments (the `training` section)
 *   2. load the model in 4-bit         5. SFTTrainer.train() and save the adapter
 *   3. prepare + LoRA (getPeftModel)   6. merge_and_unload and save   7. generate answers
 * Answers to held-out questions are printed before and after training.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { getPeftModel, prepareModelForKbitTraining, saveAdapter, type PeftModel } from '@q/lora';
import { loadModelConfig, lockDir, planModelMemory, projShape, recoverFolder, type ModelConfig } from '@q/model';
import { detectMpiLaunch, loadDataset, lossPlotSvg, selectLocalGpu, SFTTrainer, terminalProgress, type Dataset } from '@q/sft';
import { builtinDatasetPath, builtinModelConfig } from '../builtin';
import { checkInputDir, checkModelFits, checkOutputDir } from './preflight';
import type { CausalLM } from '@q/model';
import type { MergeReport } from '@q/merge';
import type { TrainConfig } from '../config';
import { note, say, type CliIO } from './io';
import { loadModel } from './load-model';
import { answerQuestions, previewQuestions, questionText } from './preview';
import { evaluateModel, type EvalResult } from './evaluate';
import { describeMerge, mergeAdapterFolder, mergePeft, saveMergedModel } from './merge-step';
import { quietIO } from './launch-mpi';

export interface TrainSummary {
  adapterDir: string;
  mergedDir: string | null;
  lossPlot: string;
  steps: number;
  /** Mean training loss of the first and the last logging window. */
  firstLoss: number;
  lastLoss: number;
  evalLossBefore: number | null;
  evalLossAfter: number | null;
  questions: string[];
  before: string[];
  after: string[];
  /** The `eval` section's measurements (null when it is off or there is nothing held out). */
  evalBefore: EvalResult | null;
  evalAfter: EvalResult | null;
  seconds: number;
}

async function loadRows(cfg: TrainConfig, io: CliIO): Promise<{ train: Dataset; test: Dataset | null }> {
  const files = cfg.dataset.path ?? builtinDatasetPath();
  if (cfg.dataset.path === null) note(io, `dataset: the built-in tiny chat set (${files})`);
  let ds = await loadDataset(files, { split: cfg.dataset.split });
  ds = ds.shuffle({ seed: cfg.dataset.seed });
  if (cfg.dataset.maxRows !== null) ds = ds.select({ end: Math.min(cfg.dataset.maxRows, ds.length) });
  if (cfg.dataset.testSize === 0) return { train: ds, test: null };
  const { train, test } = ds.trainTestSplit({ testSize: cfg.dataset.testSize, seed: cfg.dataset.seed });
  return { train, test };
}

/**
 * At most what a run writes: the adapter, its checkpoints (adapter + two AdamW moments each), the
 * merged model and the tokenizer. An upper bound: every projection is counted as a LoRA target.
 */
export function plannedOutputBytes(cfg: TrainConfig, model: ModelConfig): { output: number; merged: number } {
  let perLayer = 0;
  for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']) {
    const [o, i] = projShape(model, p);
    perLayer += cfg.lora.r * (o + i);
  }
  const lora = perLayer * model.numHiddenLayers * 4;
  const t = cfg.training;
  const saves = t.saveStrategy === 'no' ? 0 : (t.saveTotalLimit ?? (t.maxSteps > 0 && t.saveSteps >= 1 ? Math.floor(t.maxSteps / t.saveSteps) + 1 : 4));
  const tokenizer = 32 * 2 ** 20;
  const merged = cfg.merge.enabled ? planModelMemory(model).parameters * (cfg.merge.dtype === 'float32' ? 4 : 2) + tokenizer : 0;
  return { output: lora + saves * 3 * lora + tokenizer, merged };
}

async function evalRows(cfg: TrainConfig, test: Dataset | null): Promise<Record<string, unknown>[] | null> {
  if (!cfg.eval.enabled) return null;
  let rows: Record<string, unknown>[] | null = cfg.eval.path ? [...(await loadDataset(cfg.eval.path, { split: 'train' }))] : test ? [...test] : null;
  if (rows && cfg.eval.maxRows !== null) rows = rows.slice(0, cfg.eval.maxRows);
  return rows && rows.length ? rows : null;
}

function pct(x: number | null): string {
  return x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`;
}

function evalLine(r: EvalResult): string {
  const em = r.exactMatch === null ? '' : `, exact match ${r.samples.filter((s) => s.correct).length}/${r.samples.length} (${pct(r.exactMatch)})`;
  return `loss ${r.loss.toFixed(3)}, perplexity ${r.perplexity.toFixed(2)}${em} [${r.seconds.toFixed(1)} s]`;
}

function printAnswers(io: CliIO, title: string, qs: string[], answers: string[]): void {
  say(io, title);
  qs.forEach((q, i) => say(io, `  Q: ${q}\n  A: ${JSON.stringify(answers[i])}`));
}

/**
 * @example
 * ```ts
 * const summary = await runTrain(parseTrainConfig(await readConfigFile('train.yaml')), processIO());
 * ```
 */
export async function runTrain(cfg: TrainConfig, io: CliIO): Promise<TrainSummary> {
  const t0 = Date.now();
  // Under mpirun (data parallel) rank 0 prints and writes; the other ranks only train.
  const launch = detectMpiLaunch();
  const lead = (launch?.rank ?? 0) === 0;
  if (!lead) io = quietIO(io);
  if (launch) {
    const gpu = await selectLocalGpu(launch.localRank, launch.localSize);
    note(io, `data parallel: ${launch.size} ranks (Open MPI)${gpu ? `; local rank ${launch.localRank} uses the GPU at PCI ${gpu}` : ''}`);
  }
  const warn = (m: string) => note(io, `note: ${m}`);
  const out = resolve(cfg.training.outputDir);

  // 0. Before anything is loaded: the model folder exists, the output folders can be written and
  // have room, and no other run uses output_dir (held until the adapter and merge are saved).
  if (cfg.model.path !== null) {
    await checkInputDir(cfg.model.path, 'model folder', ['config.json', ['model.safetensors', 'model.safetensors.index.json']]);
  }
  if (cfg.model.tokenizer) await checkInputDir(cfg.model.tokenizer, 'tokenizer folder', [['tokenizer.json', 'tokenizer.model', 'vocab.json']]);
  const modelCfg = cfg.model.path === null ? await builtinModelConfig() : await loadModelConfig(resolve(cfg.model.path));
  checkModelFits(modelCfg, cfg.model.path ? join(resolve(cfg.model.path), 'config.json') : 'the built-in model', !!cfg.quantizationConfig?.loadIn4bit);
  const mergedOut = cfg.merge.enabled ? resolve(cfg.merge.outputDir ?? join(out, 'merged')) : null;
  const bytes = plannedOutputBytes(cfg, modelCfg);
  // Only rank 0 writes (data parallel): it alone checks, recovers and locks the output folders.
  if (!lead) return trainLocked(cfg, io, t0, out, mergedOut, warn, lead);
  await checkOutputDir(out, 'output_dir', bytes.output + (mergedOut?.startsWith(`${out}/`) ? bytes.merged : 0));
  if (mergedOut && !mergedOut.startsWith(`${out}/`)) await checkOutputDir(mergedOut, 'merge.output_dir', bytes.merged);
  for (const n of await recoverFolder(out)) note(io, `note: ${n}`);
  const lock = await lockDir(out, 'qlora train');
  for (const n of lock.notes) note(io, `note: ${n}`);
  try {
    return await trainLocked(cfg, io, t0, out, mergedOut, warn, lead);
  } finally {
    await lock.release();
  }
}

async function trainLocked(cfg: TrainConfig, io: CliIO, t0: number, out: string, mergedOut: string | null, warn: (m: string) => void, lead: boolean): Promise<TrainSummary> {
  // 1. Data: rows with `messages` get the tokenizer's chat template inside SFTTrainer.
  const { train, test } = await loadRows(cfg, io);
  say(io, `dataset: ${train.length} training rows${test ? `, ${test.length} held out` : ''}`);

  // 2. Model in 4-bit (quantization_config) and its tokenizer.
  const loaded = await loadModel(io, { path: cfg.model.path, tokenizer: cfg.model.tokenizer, quantizationConfig: cfg.quantizationConfig as never, seed: cfg.model.seed });
  const { tokenizer } = loaded;
  say(io, `model: ${loaded.name}`);

  // With exact match on, the eval's greedy answers are the preview: nothing is generated twice.
  const evalSet = await evalRows(cfg, test);
  if (cfg.eval.enabled && !evalSet) note(io, 'eval: no rows to measure (set dataset.test_size or eval.path) — skipping');
  const evalOpts = { exactMatch: cfg.eval.exactMatch, maxNewTokens: cfg.eval.maxNewTokens, batchSize: cfg.eval.batchSize, maxLength: cfg.training.maxLength };
  const fromEval = !!evalSet && cfg.eval.exactMatch && !cfg.eval.path;
  const questions = test && lead ? previewQuestions(test, cfg.preview.questions) : [];
  if (lead && cfg.preview.questions > 0 && questions.length === 0) note(io, 'preview: no held-out chat rows (set dataset.test_size) — skipping the before/after answers');
  const qText = questions.map(questionText);
  const evalBefore = evalSet && cfg.eval.before ? await evaluateModel(loaded.model, tokenizer, evalSet, evalOpts) : null;
  const answersOf = (r: EvalResult) => questions.map((_, i) => r.samples[i]?.answer ?? '');
  const before = !questions.length ? [] : fromEval && evalBefore ? answersOf(evalBefore) : await answerQuestions(loaded.model, tokenizer, questions, cfg.preview.maxNewTokens);
  if (questions.length) printAnswers(io, `\nBEFORE training${cfg.builtin ? ' (the built-in model as shipped)' : ''}:`, qText, before);
  if (evalBefore) say(io, `held-out before training: ${evalLine(evalBefore)}`);

  // 3. prepare_model_for_kbit_training + get_peft_model.
  // Whoever holds the GPU buffers now: the model, then the PeftModel around it, then the merged model.
  let owner: { release(): void } | null = loaded.model;
  try {
    const base = cfg.quantizationConfig?.loadIn4bit
      ? prepareModelForKbitTraining(loaded.model, { useGradientCheckpointing: cfg.training.gradientCheckpointing })
      : loaded.model;
    const peft: PeftModel = getPeftModel(base, cfg.lora, { seed: cfg.training.seed });
    owner = peft;
    say(io, '');
    peft.printTrainableParameters((s) => say(io, s));

    // 4-5. TrainingArguments → SFTTrainer(...).train() → save the adapter.
    const trainer = new SFTTrainer({
      model: peft,
      tokenizer,
      trainDataset: train,
      evalDataset: test ?? undefined,
      args: cfg.training,
      progress: terminalProgress(io.stderr),
      warn,
    });
    if (lead && !cfg.training.resumeFromCheckpoint) {
      // The trainer appends to its log; a fresh run in a reused output_dir starts a fresh log.
      await rm(join(out, 'trainer_log.jsonl'), { force: true });
    }
    const evalLossBefore = test ? (await trainer.evaluate()).evalLoss : null;
    const result = await trainer.train();
    const evalLossAfter = test ? (await trainer.evaluate()).evalLoss : null;
    if (lead) {
      // The adapter and the tokenizer appear together, or not at all (checkpoints and logs stay).
      await saveAdapter(peft, out, { baseModelNameOrPath: loaded.path, alsoWrite: loaded.saveTokenizer });
    }
    const losses = trainer.state.logHistory.filter((e) => e.loss !== undefined).map((e) => e.loss!);
    say(io, `\ntrained ${result.globalStep} steps in ${result.metrics.trainRuntime.toFixed(1)} s: training loss ${losses[0]?.toFixed(3)} -> ${losses[losses.length - 1]?.toFixed(3)}`);
    if (evalLossBefore !== null) say(io, `held-out loss ${evalLossBefore.toFixed(3)} -> ${evalLossAfter!.toFixed(3)}`);
    say(io, `adapter: ${out} (adapter_config.json, adapter_model.safetensors)`);

    // The trained model (4-bit base + LoRA) on the eval rows.
    const evalAfter = evalSet ? await evaluateModel(peft, tokenizer, evalSet, evalOpts) : null;

    // 6. merge_and_unload → save_pretrained; 7. answers from the merged model.
    let mergedDir: string | null = null;
    let after: string[] = fromEval && evalAfter ? answersOf(evalAfter) : [];
    if (cfg.merge.enabled && lead) {
      mergedDir = mergedOut!;
      let merged: CausalLM;
      let report: MergeReport;
      if (cfg.quantizationConfig?.loadIn4bit && cfg.merge.base === 'full-precision') {
        // Seed step 6: AutoPeftModelForCausalLM.from_pretrained(output_dir) reloads the base in
        // full precision and applies the saved adapter; the 4-bit training model goes first.
        owner = null;
        peft.release();
        ({ model: merged, report } = await mergeAdapterFolder(io, { path: cfg.model.path, tokenizer: cfg.model.tokenizer, quantizationConfig: null, seed: cfg.model.seed }, out, cfg.merge.dtype));
      } else {
        ({ model: merged, report } = await mergePeft(peft, cfg.merge.dtype));
      }
      owner = merged;
      note(io, describeMerge(report, cfg.model.path ?? 'the built-in weights'));
      try {
        await saveMergedModel(merged, mergedDir, cfg.merge.dtype, loaded.saveTokenizer);
        say(io, `merged model (${cfg.merge.dtype}): ${mergedDir}`);
        if (questions.length && !fromEval) after = await answerQuestions(merged, tokenizer, questions, cfg.preview.maxNewTokens);
      } finally {
        owner = null;
        merged.release();
      }
    } else if (questions.length && !fromEval) {
      peft.eval();
      after = await answerQuestions(peft.base, tokenizer, questions, cfg.preview.maxNewTokens);
    }
    if (questions.length) {
      printAnswers(io, `\nAFTER training${fromEval ? ' (4-bit base + LoRA)' : mergedDir ? ' (merged model)' : ''}:`, qText, after);
      say(io, '\nreference answers (from the dataset):');
      questions.forEach((q, i) => say(io, `  ${qText[i]} -> ${JSON.stringify(q.reference)}`));
    }
    if (evalAfter) {
      say(io, `\nheld-out (${evalAfter.rows} rows)${evalBefore ? ` before: ${evalLine(evalBefore)}` : ''}`);
      say(io, `held-out (${evalAfter.rows} rows) after:  ${evalLine(evalAfter)}`);
      await writeFile(join(out, 'eval_results.json'), `${JSON.stringify({ before: evalBefore, after: evalAfter }, null, 2)}\n`);
      // The held-out loss before (step 0) and after training goes on the plot as the eval line.
      const points = [...(evalBefore ? [{ step: 0, eval_loss: evalBefore.loss }] : []), { step: result.globalStep, eval_loss: evalAfter.loss }];
      await writeFile(join(out, 'loss.svg'), lossPlotSvg([...trainer.state.logHistory, ...points], 'training loss and held-out loss'));
    }
    const lossPlot = join(out, 'loss.svg');
    say(io, `\nloss plot: ${lossPlot}`);
    return {
      adapterDir: out,
      mergedDir,
      lossPlot,
      steps: result.globalStep,
      firstLoss: losses[0] ?? NaN,
      lastLoss: losses[losses.length - 1] ?? NaN,
      evalLossBefore,
      evalLossAfter,
      questions: qText,
      before,
      after,
      evalBefore,
      evalAfter,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    owner?.release();
  }
}
