/**
 * `npm run demo`, in a web page on navigator.gpu: @q's built-in model (a small Llama trained on
 * country facts) is loaded in 4-bit NF4 from files served beside the page, answers held-out
 * questions, is fine-tuned with QLoRA to reply as a tour guide who adds the continent, and
 * answers them again, with exact match before and after and a live loss chart.
 * Every setting, the held-out split and the scoring are the demo's own (@q/qlora/demo).
 * `window.__q` mirrors what the page shows, for tests and the console.
 * URL parameters: ?maxSteps=N trains N steps instead of the demo's 20; ?questions=N scores the
 * first N held-out questions instead of all 16.
 */
import { getDevice } from '@q/core';
import { AutoModelForCausalLM, AutoTokenizer, nodeModules } from '@q/model';
import { getPeftModel, prepareModelForKbitTraining } from '@q/lora';
import { loadDataset, lossPlotSvg, SFTTrainer, type LogEntry } from '@q/sft';
import { BUILTIN_LORA, BUILTIN_QUANTIZATION, BUILTIN_TEST_SIZE, BUILTIN_TRAINING, DATASET_SECTION_DEFAULTS, EVAL_SECTION_DEFAULTS, evaluateModel, type EvalResult } from '@q/qlora/demo';
// The file systems browser-qlora gives @q: served files read-only under /picked, the rest in the
// browser's private storage (the trainer writes its log and loss plot to its output folder).
import { installBrowserFs, PICKED } from '../../browser-qlora/src/fs/browser-fs';
import { PickedFilesFs } from '../../browser-qlora/src/fs/picked-files-fs';

/** Exact match and loss on the held-out questions, with every answer. */
export type Score = Pick<EvalResult, 'exactMatch' | 'loss' | 'samples' | 'seconds'>;

/** What the page shows, for tests and the console. */
export interface PageState {
  phase: 'loading' | 'before' | 'training' | 'after' | 'done' | 'error';
  adapter: string;
  runtime: string;
  maxSteps: number;
  /** Training loss of each optimizer step. */
  losses: number[];
  before: Score | null;
  after: Score | null;
  loadSeconds: number;
  trainSeconds: number;
  seconds: number;
  error: string | null;
}

declare global {
  interface Window {
    __q: PageState;
  }
}

const params = new URLSearchParams(location.search);
const MAX_STEPS = Number(params.get('maxSteps') ?? BUILTIN_TRAINING.maxSteps);
const QUESTIONS = Number(params.get('questions') ?? BUILTIN_TEST_SIZE);
const OUTPUT_DIR = '/runs/browser-finetune';

const state: PageState = { phase: 'loading', adapter: '', runtime: '', maxSteps: MAX_STEPS, losses: [], before: null, after: null, loadSeconds: 0, trainSeconds: 0, seconds: 0, error: null };
window.__q = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const status = (text: string) => ($('status').textContent = text);
const pct = (s: Score) => `${s.samples.filter((x) => x.correct).length}/${s.samples.length} (${(100 * s.exactMatch!).toFixed(0)}%)`;

/** The built-in model folder and the demo's dataset, as build.mjs lays them out in dist/builtin/. */
async function builtinFiles(): Promise<{ model: File[]; dataset: File }> {
  const manifest = (await (await fetch('dist/builtin/manifest.json')).json()) as { model: string[]; dataset: string };
  const get = async (p: string) => new File([await (await fetch(`dist/builtin/${p}`)).blob()], p.split('/').pop()!);
  return { model: await Promise.all(manifest.model.map((f) => get(`model/${f}`))), dataset: await get(manifest.dataset) };
}

function showAnswers(): void {
  const { before, after } = state;
  const rows = (before ?? after)!.samples.map((s, i) => {
    const cell = (x: Score | null) => (x ? `<td class="${x.samples[i]!.correct ? 'ok' : 'no'}">${esc(x.samples[i]!.answer)}</td>` : '<td class="muted">…</td>');
    return `<tr><td>${esc(s.question)}</td>${cell(before)}${cell(after)}<td class="muted">${esc(s.reference)}</td></tr>`;
  });
  $('answers').innerHTML = `<tr><th>held-out question</th><th>before</th><th>after</th><th>dataset's answer</th></tr>${rows.join('')}`;
  $('score').textContent = `exact match before: ${before ? pct(before) : '…'} · after: ${after ? pct(after) : '…'}`;
}

async function run(): Promise<void> {
  const t0 = performance.now();
  const dev = await getDevice();
  const { vendor, architecture, description } = dev.info;
  state.adapter = [vendor, architecture, description].filter(Boolean).join(' · ') || '(adapter gave no description)';
  state.runtime = dev.info.runtime;
  $('adapter').textContent = `${state.adapter} (${state.runtime})`;

  // The files, mounted where @q's file functions (fromPretrained, loadDataset, SFTTrainer) look.
  status('fetching the built-in model…');
  const files = await builtinFiles();
  const picked = new PickedFilesFs();
  picked.mount(`${PICKED}/model`, files.model);
  picked.mount(`${PICKED}/data`, [files.dataset]);
  await installBrowserFs(picked);

  // 1. The demo's data: shuffle, then hold out 16 rows (`qlora train`'s dataset section).
  const seed = DATASET_SECTION_DEFAULTS.seed;
  const ds = (await loadDataset(`${PICKED}/data/${files.dataset.name}`, { split: 'train' })).shuffle({ seed });
  const { train, test } = ds.trainTestSplit({ testSize: BUILTIN_TEST_SIZE, seed });
  const heldOut = [...test].slice(0, QUESTIONS);

  // 2. The model in 4-bit NF4 with double quantization, and its tokenizer.
  const tokenizer = await AutoTokenizer.fromPretrained(`${PICKED}/model`);
  const model = await AutoModelForCausalLM.fromPretrained(`${PICKED}/model`, {
    quantizationConfig: BUILTIN_QUANTIZATION as never,
    onProgress: (done, total) => status(`loading in 4-bit: ${done} / ${total} tensors`),
  });
  $('model').textContent = `built-in Llama (${model.config.numHiddenLayers} layers, hidden ${model.config.hiddenSize}, ${model.config.vocabSize.toLocaleString()} tokens), NF4 + double quantization; ${train.length} training rows, ${heldOut.length} held-out questions`;

  // The demo's scoring: greedy answers compared with the dataset's, and the loss on the answers.
  const evalOpts = { maxNewTokens: EVAL_SECTION_DEFAULTS.maxNewTokens, batchSize: EVAL_SECTION_DEFAULTS.batchSize, maxLength: BUILTIN_TRAINING.maxLength };
  const score = async (m: Parameters<typeof evaluateModel>[0]): Promise<Score> => {
    const { exactMatch, loss, samples, seconds } = await evaluateModel(m, tokenizer, heldOut, evalOpts);
    return { exactMatch, loss, samples, seconds };
  };
  state.loadSeconds = (performance.now() - t0) / 1000;
  state.phase = 'before';
  status('answering the held-out questions before training…');
  state.before = await score(model);
  showAnswers();

  // 3. prepare_model_for_kbit_training + LoRA (r=16 on v, o, down), 4. SFTTrainer with the demo's arguments.
  state.phase = 'training';
  const peft = getPeftModel(prepareModelForKbitTraining(model, { useGradientCheckpointing: false }), { ...BUILTIN_LORA, targetModules: [...BUILTIN_LORA.targetModules] }, { seed: BUILTIN_TRAINING.seed });
  const { trainable, all } = peft.countParameters();
  $('params').textContent = `${trainable.toLocaleString()} trainable of ${all.toLocaleString()} parameters`;
  await (await nodeModules()).fs.rm(OUTPUT_DIR, { recursive: true, force: true }); // a fresh log each visit
  const history: LogEntry[] = [{ step: 0, eval_loss: state.before.loss }];
  const chart = () => ($('chart').innerHTML = lossPlotSvg(history, 'training loss and held-out loss'));
  const trainer = new SFTTrainer({
    model: peft,
    tokenizer,
    trainDataset: train,
    // loggingSteps 1 only feeds the chart every step; training is the same.
    args: { ...BUILTIN_TRAINING, maxSteps: MAX_STEPS, loggingSteps: 1, outputDir: OUTPUT_DIR },
    progress: false,
    onLog: (e) => {
      if (e.loss === undefined) return;
      history.push(e);
      state.losses.push(e.loss);
      $<HTMLProgressElement>('progress').value = e.step / MAX_STEPS;
      status(`training: step ${e.step} / ${MAX_STEPS}, loss ${e.loss.toFixed(3)}`);
      chart();
    },
    warn: (w) => console.warn(w),
  });
  const t1 = performance.now();
  await trainer.train();
  state.trainSeconds = (performance.now() - t1) / 1000;

  // 5. The 4-bit base + LoRA on the same questions.
  state.phase = 'after';
  status('answering the held-out questions after training…');
  state.after = await score(peft);
  history.push({ step: MAX_STEPS, eval_loss: state.after.loss });
  chart();
  showAnswers();
  peft.release();
  dev.dispose();
  state.seconds = (performance.now() - t0) / 1000;
  status(`done in ${state.seconds.toFixed(0)} s (training ${state.trainSeconds.toFixed(0)} s)`);
}

run().then(
  () => (state.phase = 'done'),
  (e: unknown) => {
    state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    state.phase = 'error';
    status(`failed: ${state.error}`);
    console.error(e);
  },
);
