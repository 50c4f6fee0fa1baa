/**
 * The page: picks a model folder and a dataset (the built-in ones by default), shows the settings
 * and the memory plan, and drives the training worker: live loss chart, tokens/s and time left,
 * pause/resume/stop, before/after answers, a chat box, and the adapter as a .zip download.
 * `window.__app` mirrors what the page shows, for tests and the console.
 */
import { LossChart } from './chart';
import { fmtBytes, type MemoryPlan } from './memory-plan';
import type { Answer, FromWorker, ToWorker } from './protocol';
import { SEED_SETTINGS, type Settings } from './settings';

export interface AppState {
  phase: 'idle' | 'loading' | 'training' | 'paused' | 'done' | 'refused' | 'error';
  adapter: string;
  plan: MemoryPlan | null;
  refusals: string[];
  losses: { step: number; loss: number }[];
  evalLosses: { step: number; loss: number }[];
  resumedFrom: number | null;
  /** The step training is held after while paused; null when running. */
  heldAt: number | null;
  steps: number;
  before: Answer[];
  after: Answer[];
  chat: string[];
  downloads: string[];
  status: string;
  error: string | null;
}

declare global {
  interface Window {
    __app: AppState;
  }
}

const state: AppState = { phase: 'idle', adapter: '', plan: null, refusals: [], losses: [], evalLosses: [], resumedFrom: null, heldAt: null, steps: 0, before: [], after: [], chat: [], downloads: [], status: 'ready', error: null };
window.__app = state;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: string) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
const setStatus = (t: string) => {
  state.status = t;
  $('status').textContent = t;
};

// Settings form: one input per field, the seed's defaults, URL parameters override (?maxSteps=8).
const params = new URLSearchParams(location.search);
const FIELDS: [keyof Settings, string][] = [
  ['loadIn4bit', 'load in 4-bit'], ['quantType', 'quant type'], ['doubleQuant', 'double quantization'], ['memoryBudgetGiB', 'GPU memory budget (GiB)'],
  ['r', 'LoRA r'], ['loraAlpha', 'lora_alpha'], ['loraDropout', 'lora_dropout'], ['targetModules', 'target modules'],
  ['learningRate', 'learning rate'], ['lrSchedulerType', 'schedule'], ['perDeviceTrainBatchSize', 'batch size'], ['gradientAccumulationSteps', 'accumulation steps'],
  ['maxLength', 'max length (tokens)'], ['maxSteps', 'max steps (0 = epochs)'], ['numTrainEpochs', 'epochs'], ['saveSteps', 'checkpoint every (steps)'],
  ['testSize', 'held-out rows'], ['questions', 'questions shown'], ['answerTokens', 'tokens per answer'], ['seed', 'seed'],
];
function initialSettings(): Settings {
  const s = { ...SEED_SETTINGS } as Record<string, unknown>;
  for (const [k] of FIELDS) {
    const v = params.get(k);
    if (v === null) continue;
    const d = SEED_SETTINGS[k];
    s[k] = typeof d === 'boolean' ? v === 'true' : typeof d === 'number' ? Number(v) : Array.isArray(d) ? v.split(',') : v;
  }
  return s as unknown as Settings;
}
const settingsEl = $('settings');
for (const [k, label] of FIELDS) {
  const v = initialSettings()[k];
  const input =
    typeof v === 'boolean'
      ? `<input type="checkbox" name="${k}" ${v ? 'checked' : ''} />`
      : k === 'quantType'
        ? `<select name="${k}"><option ${v === 'nf4' ? 'selected' : ''}>nf4</option><option ${v === 'fp4' ? 'selected' : ''}>fp4</option></select>`
        : k === 'lrSchedulerType'
          ? `<select name="${k}">${['cosine', 'linear', 'constant'].map((o) => `<option ${o === v ? 'selected' : ''}>${o}</option>`).join('')}</select>`
          : `<input type="${typeof v === 'number' ? 'number' : 'text'}" step="any" name="${k}" value="${Array.isArray(v) ? v.join(',') : v}" />`;
  settingsEl.insertAdjacentHTML('beforeend', `<label>${label}${input}</label>`);
}
function readSettings(): Settings {
  const s = {} as Record<string, unknown>;
  for (const [k] of FIELDS) {
    const el = settingsEl.querySelector(`[name=${k}]`) as HTMLInputElement;
    const d = SEED_SETTINGS[k];
    s[k] = typeof d === 'boolean' ? el.checked : typeof d === 'number' ? Number(el.value) : Array.isArray(d) ? el.value.split(',').map((x) => x.trim()).filter(Boolean) : el.value;
  }
  return s as unknown as Settings;
}

// Picked files; the built-in model and data otherwise (served beside the page).
let modelFiles: File[] = [];
let datasetFile: File | null = null;
const showPicked = () => {
  const m = modelFiles.length ? `model: ${modelFiles.length} files (${modelFiles.map((f) => f.name).join(', ')})` : 'model: built-in';
  $('picked').textContent = `${m}; dataset: ${datasetFile ? `${datasetFile.name} (${fmtBytes(datasetFile.size)})` : 'built-in'}`;
};
for (const id of ['model-dir', 'model-files']) {
  $<HTMLInputElement>(id).addEventListener('change', (e) => {
    modelFiles = Array.from((e.target as HTMLInputElement).files ?? []).filter((f) => !f.name.startsWith('.'));
    showPicked();
  });
}
$<HTMLInputElement>('dataset').addEventListener('change', (e) => {
  datasetFile = (e.target as HTMLInputElement).files?.[0] ?? null;
  showPicked();
});

async function builtinFiles(): Promise<{ model: File[]; dataset: File }> {
  const manifest = (await (await fetch('builtin/manifest.json')).json()) as { model: string[]; dataset: string };
  const get = async (p: string) => new File([await (await fetch(`builtin/${p}`)).blob()], p.split('/').pop()!);
  return { model: await Promise.all(manifest.model.map((f) => get(`model/${f}`))), dataset: await get(manifest.dataset) };
}

// The worker and what it says.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);
const chart = new LossChart($('chart'));
const buttons = (on: Record<string, boolean>) => {
  for (const [id, v] of Object.entries(on)) $<HTMLButtonElement>(id).disabled = !v;
};

function showPlan(p: MemoryPlan): void {
  const rows = p.rows.map((r) => `<tr><td>${esc(r.what)}</td><td>${fmtBytes(r.bytes)}</td></tr>`).join('');
  const l = p.limits;
  $('plan').innerHTML = `${rows}<tr><th>total (estimate)</th><th>${fmtBytes(p.totalBytes)}</th></tr>
    <tr><td>largest tensor: ${esc(p.largest.what)}</td><td>${fmtBytes(p.largest.bytes)}</td></tr>
    <tr><td class="muted">adapter limits: maxBufferSize ${fmtBytes(l.maxBufferSize)}, maxStorageBufferBindingSize ${fmtBytes(l.maxStorageBufferBindingSize)}; memory budget ${fmtBytes(l.budgetBytes)}</td><td></td></tr>`;
}

function showAnswers(): void {
  const n = Math.max(state.before.length, state.after.length);
  let html = '<tr><th>question</th><th>before</th><th>after</th><th>dataset\'s answer</th></tr>';
  for (let i = 0; i < n; i++) {
    const b = state.before[i];
    const a = state.after[i];
    html += `<tr><td>${esc((b ?? a)!.question)}</td><td>${esc(b?.answer ?? '')}</td><td>${esc(a?.answer ?? '…')}</td><td>${esc((b ?? a)!.reference)}</td></tr>`;
  }
  $('answers').innerHTML = html;
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'status':
      setStatus(m.text);
      break;
    case 'adapter':
      state.adapter = m.text;
      $('adapter').textContent = m.text;
      break;
    case 'plan':
      state.plan = m.plan;
      showPlan(m.plan);
      break;
    case 'refused':
      state.refusals = m.reasons;
      state.phase = 'refused';
      $('refused').innerHTML = `Not started — it would not fit:<br>${m.reasons.map(esc).join('<br>')}`;
      buttons({ train: true, pause: false, stop: false });
      setStatus('refused');
      break;
    case 'loaded':
      state.resumedFrom = m.resumeStep;
      setStatus(`${m.trainRows} training rows, ${m.testRows} held out; ${m.trainable.toLocaleString()} trainable of ${m.all.toLocaleString()} parameters${m.resumeStep ? `; resuming from step ${m.resumeStep}` : ''}`);
      state.phase = 'training';
      buttons({ pause: true, stop: true });
      break;
    case 'progress': {
      const p = $<HTMLProgressElement>('progress');
      p.max = m.maxSteps;
      p.value = m.step;
      state.steps = m.step;
      const left = m.secondsLeft >= 60 ? `${Math.floor(m.secondsLeft / 60)} min ${Math.round(m.secondsLeft % 60)} s` : `${Math.round(m.secondsLeft)} s`;
      $('step').textContent = `step ${m.step} / ${m.maxSteps} · loss ${m.loss.toFixed(3)} · ${Math.round(m.tokensPerSecond)} tokens/s · about ${left} left`;
      break;
    }
    case 'log':
      if (m.loss !== undefined) state.losses.push({ step: m.step, loss: m.loss });
      if (m.evalLoss !== undefined) state.evalLosses.push({ step: m.step, loss: m.evalLoss });
      chart.add(m.step, m.loss, m.evalLoss);
      break;
    case 'held':
      state.heldAt = m.step;
      setStatus(`paused after step ${m.step}`);
      break;
    case 'answers':
      state[m.phase] = m.answers;
      showAnswers();
      break;
    case 'trained':
      state.steps = m.steps;
      buttons({ pause: false, stop: false });
      break;
    case 'chat':
      state.chat.push(m.reply);
      $('chat-log').textContent += `assistant: ${m.reply}\n`;
      buttons({ 'chat-send': true });
      break;
    case 'file': {
      const url = URL.createObjectURL(new Blob([m.bytes as BlobPart], { type: 'application/zip' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: m.name });
      a.click();
      state.downloads.push(m.name);
      setStatus(`downloaded ${m.name} (${fmtBytes(m.bytes.byteLength)})`);
      break;
    }
    case 'error':
      state.error = m.message;
      state.phase = 'error';
      setStatus(`failed: ${m.message}`);
      buttons({ train: true, pause: false, stop: false });
      break;
  }
  // 'done' once the after-answers (or the training, without held-out rows) are in.
  if ((m.type === 'answers' && m.phase === 'after') || (m.type === 'status' && m.text.startsWith('done'))) {
    if (state.phase === 'training' || state.phase === 'paused') {
      state.phase = 'done';
      buttons({ train: true, 'dl-adapter': true, 'dl-merged': true, 'chat-send': true });
      $<HTMLInputElement>('chat-input').disabled = false;
      $('chat-log').textContent = '';
    }
  }
};

$('train').addEventListener('click', async () => {
  buttons({ train: false });
  state.phase = 'loading';
  state.refusals = [];
  $('refused').textContent = '';
  try {
    const picked = modelFiles.length && datasetFile ? null : await builtinFiles();
    send({ type: 'start', model: modelFiles.length ? modelFiles : picked!.model, dataset: datasetFile ?? picked!.dataset, settings: readSettings() });
  } catch (e) {
    state.phase = 'error';
    state.error = String(e);
    setStatus(`failed: ${state.error}`);
    buttons({ train: true });
  }
});
$('pause').addEventListener('click', () => {
  const paused = state.phase !== 'paused';
  send({ type: paused ? 'pause' : 'resume' });
  state.phase = paused ? 'paused' : 'training';
  if (!paused) state.heldAt = null;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
});
$('stop').addEventListener('click', () => send({ type: 'stop' }));
$('forget').addEventListener('click', () => send({ type: 'forget' }));
$('dl-adapter').addEventListener('click', () => send({ type: 'download', what: 'adapter' }));
$('dl-merged').addEventListener('click', () => send({ type: 'download', what: 'merged' }));
$('chat-send').addEventListener('click', () => {
  const input = $<HTMLInputElement>('chat-input');
  if (!input.value.trim()) return;
  $('chat-log').textContent += `you: ${input.value}\n`;
  send({ type: 'chat', message: input.value });
  input.value = '';
  buttons({ 'chat-send': false });
});
showPicked();
