/**
 * The training worker: the seed's pipeline on the files the user picked, off the page's thread so
 * the page stays responsive. Every step is @q's own API over a browser file system (picked files
 * read lazily + OPFS for outputs): load in 4-bit → prepare + LoRA → SFTTrainer (checkpoints in
 * OPFS, so a reload resumes) → answers before/after → chat → adapter (and merged model) as .zip.
 */
/// <reference lib="webworker" />
import { getDevice } from '@q/core';
import { pipeline, type AutoTokenizer, type CausalLM } from '@q/model';
import type { PeftModel } from '@q/lora';
import { mergeAndUnload, saveMerged } from '@q/merge';
import type { ProgressSink } from '@q/sft';
import { installBrowserFs, PICKED } from './fs/browser-fs';
import { PickedFilesFs } from './fs/picked-files-fs';
import { answer, chatTemplate } from './chat';
import { loadRun, makeTrainer } from './recipe';
import { planMemory } from './memory-plan';
import type { FromWorker, ToWorker } from './protocol';
import type { Settings } from './settings';
import { zipFolder } from './zip';

declare const self: DedicatedWorkerGlobalScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer);

/** A stable name for a run: the same files and settings find the same OPFS folder after a reload. */
function runKey(model: File[], dataset: File, s: Settings): string {
  const text = JSON.stringify([model.map((f) => [f.name, f.size]), [dataset.name, dataset.size], s]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

let control = { paused: false, stop: false, resume: () => {} };
let session: { peft: PeftModel | null; model: CausalLM; tok: AutoTokenizer; out: string; settings: Settings; history: { role: string; content: string }[] } | null = null;

async function start(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const picked = new PickedFilesFs();
  const modelDir = `${PICKED}/model`;
  const names = picked.mount(modelDir, m.model);
  picked.mount(`${PICKED}/data`, [m.dataset]);
  const opfs = await installBrowserFs(picked);
  if (!names.includes('config.json')) throw new Error(`the model folder has no config.json (got ${names.join(', ')})`);
  if (!names.some((n) => n.endsWith('.safetensors'))) throw new Error('the model folder has no .safetensors weights');

  const dev = await getDevice();
  post({ type: 'adapter', text: `${[dev.info.vendor, dev.info.architecture, dev.info.description].filter(Boolean).join(' · ') || 'WebGPU adapter'} (${dev.info.runtime})` });
  const config = JSON.parse(await m.model.find((f) => f.name === 'config.json')!.text()) as Record<string, unknown>;
  const { maxBufferSize, maxStorageBufferBindingSize } = dev.gpu.limits;
  const plan = planMemory(config, m.settings, { maxBufferSize, maxStorageBufferBindingSize });
  post({ type: 'plan', plan });
  if (plan.refusals.length) {
    post({ type: 'refused', reasons: plan.refusals });
    return;
  }

  post({ type: 'status', text: 'loading the tokenizer and the model…' });
  const s = m.settings;
  const run = await loadRun(modelDir, `${PICKED}/data/${m.dataset.name}`, s, (done, total) =>
    post({ type: 'status', text: `loading${s.loadIn4bit ? ' in 4-bit' : ''}: ${done} / ${total} tensors` }),
  );
  const out = `/runs/${runKey(m.model, m.dataset, s)}`;
  const ckpts = (await opfs.readdir(out).catch(() => [] as string[])).filter((n) => /^checkpoint-\d+$/.test(n));
  const resumeStep = ckpts.length ? Math.max(...ckpts.map((n) => Number(n.slice(11)))) : null;
  if (run.questions.length) {
    post({ type: 'status', text: 'answering the held-out questions before training…' });
    post({ type: 'answers', phase: 'before', answers: await answer(run.model, run.tok, run.questions, s.answerTokens) });
  }

  const t0 = performance.now();
  let stepsThisRun = 0;
  const progress: ProgressSink = {
    update(step, total, info) {
      stepsThisRun++;
      const perStep = (performance.now() - t0) / 1000 / stepsThisRun;
      post({ type: 'progress', step, maxSteps: total, loss: Number(info.loss), tokensPerSecond: Number(info['tok/s']), secondsLeft: (total - step) * perStep, paused: control.paused });
    },
    log: (line) => post({ type: 'status', text: line }),
    done: () => undefined,
  };
  control = { paused: false, stop: false, resume: () => {} };
  const { peft, trainer } = makeTrainer(run, s, out, {
    progress,
    onLog: (e) => post({ type: 'log', step: e.step, loss: e.loss, evalLoss: e.eval_loss }),
    callbacks: [
      {
        // Pause holds the trainer here between optimizer steps; stop ends it with a checkpoint.
        onStepEnd: async (state) => {
          if (control.paused && !control.stop) post({ type: 'held', step: state.globalStep });
          while (control.paused && !control.stop) await new Promise<void>((r) => (control.resume = r));
          return { shouldTrainingStop: control.stop, shouldSave: control.stop };
        },
      },
    ],
    warn: (w) => post({ type: 'status', text: `note: ${w}` }),
  });
  const { trainable, all } = peft.countParameters();
  post({ type: 'loaded', trainRows: run.train.length, testRows: run.test?.length ?? 0, trainable, all, resumeStep });
  post({ type: 'status', text: resumeStep ? `resuming from checkpoint-${resumeStep} in the browser's storage` : 'training…' });
  const result = await trainer.train({ resumeFromCheckpoint: resumeStep !== null });
  await trainer.saveModel(`${out}/adapter`);
  post({ type: 'trained', steps: result.globalStep, seconds: (performance.now() - t0) / 1000, stopped: control.stop });

  peft.eval();
  if (run.questions.length) {
    post({ type: 'status', text: 'answering the held-out questions after training…' });
    post({ type: 'answers', phase: 'after', answers: await answer(peft.base, run.tok, run.questions, s.answerTokens) });
  }
  session = { peft, model: peft.base, tok: run.tok, out, settings: s, history: [] };
  post({ type: 'status', text: 'done: chat with the adapted model, or download the adapter' });
}

async function chat(message: string): Promise<void> {
  if (!session) throw new Error('train (or resume) first');
  session.history.push({ role: 'user', content: message });
  const gen = pipeline('text-generation', { model: session.model, tokenizer: session.tok, chatTemplate: chatTemplate(session.tok) });
  const [r] = await gen(session.history as never, { maxNewTokens: 64, doSample: false, returnFullText: false, useCache: true });
  const reply = String(r!.generated_text).trim();
  session.history.push({ role: 'assistant', content: reply });
  post({ type: 'chat', reply });
}

async function download(what: 'adapter' | 'merged'): Promise<void> {
  if (!session) throw new Error('train (or resume) first');
  if (what === 'adapter') {
    const bytes = await zipFolder(`${session.out}/adapter`, 'adapter');
    post({ type: 'file', name: 'adapter.zip', bytes }, [bytes.buffer]);
    return;
  }
  if (session.peft) {
    post({ type: 'status', text: 'merging the adapter into the base (float16)…' });
    const { model, report } = await mergeAndUnload(session.peft, { dtype: 'float16' });
    session.peft = null;
    session.model = model;
    post({ type: 'status', text: `merged ${report.layers} LoRA layers into the ${report.base} base` });
    await saveMerged(model, `${session.out}/merged`, { dtype: 'float16', tokenizerDir: `${PICKED}/model` });
  }
  const bytes = await zipFolder(`${session.out}/merged`, 'merged');
  post({ type: 'file', name: 'merged.zip', bytes }, [bytes.buffer]);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  const fail = (err: unknown) => post({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  switch (m.type) {
    case 'start':
      start(m).catch(fail);
      break;
    case 'pause':
      control.paused = true;
      break;
    case 'resume':
      control.paused = false;
      control.resume();
      break;
    case 'stop':
      control.stop = true;
      control.resume();
      break;
    case 'chat':
      chat(m.message).catch(fail);
      break;
    case 'download':
      download(m.what).catch(fail);
      break;
    case 'forget':
      navigator.storage.getDirectory().then((d) => d.removeEntry('runs', { recursive: true })).catch(() => undefined).then(() => post({ type: 'status', text: 'stored checkpoints removed' }));
      break;
  }
};
