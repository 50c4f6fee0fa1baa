/**
 * Trainer checkpoints that resume exactly (users.md #6): the adapter (or full weights), the
 * optimizer's moments, the step, the data position and the log history. Written whole beside
 * checkpoint-N and renamed in (writeFolderAtomic): re-saving checkpoint-N renames the old one
 * aside first, so a crash at any moment leaves a complete checkpoint-N, old or new.
 */
import { readSafetensors, serializeSafetensors, FormatError, type SafetensorsEntry, type Tensor } from '@q/core';
import { atomicWriteFile, fileSource, pathExists, readJsonFile, removeFolderAtomic, writeFolderAtomic, writeModelFiles, type CausalLM } from '@q/model';
import { nodeModules } from '@q/model';
import { writeAdapterFiles, assertFiniteTensors, PeftModel } from '@q/lora';
import type { AdamW, AdamWStateDict, GradScaler } from '@q/optim';
import type { LogEntry } from './loss-plot';

export interface TrainerState {
  globalStep: number;
  epoch: number;
  /** Micro-batches of the current epoch already consumed. */
  batchInEpoch: number;
  logHistory: LogEntry[];
  maxSteps: number;
  numTrainEpochs: number;
  /** Learning-rate schedule position: optimizer steps that ran (fp16 overflow skips do not count). Default globalStep. */
  lrStep?: number;
}

// Node built-ins through @q/model's loader, so a browser bundle of this package still builds.
const node = nodeModules;

export async function saveCheckpoint(
  outputDir: string,
  model: PeftModel | CausalLM,
  opt: AdamW,
  state: TrainerState,
  args: Record<string, unknown>,
  saveTotalLimit: number | null,
  scaler: GradScaler | null = null,
): Promise<string> {
  const { path } = await node();
  const final = path.join(outputDir, `checkpoint-${state.globalStep}`);
  const sd = await opt.stateDict();
  const tensors: Record<string, SafetensorsEntry> = {};
  const steps: Record<string, number> = {};
  for (const [name, s] of Object.entries(sd.state)) {
    tensors[`${name}.exp_avg`] = { dtype: 'F32', shape: [s.expAvg.length], data: s.expAvg };
    tensors[`${name}.exp_avg_sq`] = { dtype: 'F32', shape: [s.expAvgSq.length], data: s.expAvgSq };
    steps[name] = s.step;
  }
  assertFiniteTensors(tensors, `${final}/optimizer.safetensors`);
  await writeFolderAtomic(final, async (tmp) => {
    if (model instanceof PeftModel) await writeAdapterFiles(model, tmp);
    else {
      const entries = model.namedParameters().map(([n, t]) => [n, [...t.shape], async () => (await t.read()) as Float32Array] as [string, number[], () => Promise<Float32Array>]);
      await writeModelFiles(tmp, model.config, entries);
    }
    await atomicWriteFile(path.join(tmp, 'optimizer.safetensors'), serializeSafetensors(tensors, { step: String(sd.step), param_steps: JSON.stringify(steps) }));
    await atomicWriteFile(
      path.join(tmp, 'trainer_state.json'),
      JSON.stringify(
        {
          global_step: state.globalStep,
          epoch: state.epoch,
          max_steps: state.maxSteps,
          num_train_epochs: state.numTrainEpochs,
          log_history: state.logHistory,
          q_batch_in_epoch: state.batchInEpoch,
          q_lr_step: state.lrStep ?? state.globalStep,
        },
        null,
        2,
      ),
    );
    await atomicWriteFile(path.join(tmp, 'training_args.json'), JSON.stringify(args, null, 2));
    if (scaler?.enabled) await atomicWriteFile(path.join(tmp, 'scaler.json'), JSON.stringify(scaler.stateDict(), null, 2));
  });
  if (saveTotalLimit !== null && saveTotalLimit > 0) {
    const all = await listCheckpoints(outputDir);
    for (const old of all.slice(0, Math.max(0, all.length - saveTotalLimit))) await removeFolderAtomic(old);
  }
  return final;
}

/** checkpoint-N folders of a run, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<string[]> {
  const { fs, path } = await node();
  const names = await fs.readdir(outputDir).catch(() => [] as string[]);
  return names
    .filter((n: string) => /^checkpoint-\d+$/.test(n))
    .sort((a: string, b: string) => Number(a.split('-')[1]) - Number(b.split('-')[1]))
    .map((n: string) => path.join(outputDir, n));
}

async function readWeightsInto(file: string, params: Map<string, Tensor>, rename: (n: string) => string): Promise<void> {
  const src = await fileSource(file);
  try {
    const r = await readSafetensors(src, file);
    for (const n of r.names()) {
      const t = params.get(rename(n));
      if (!t) throw new FormatError(file, `tensor "${n}" matches no trainable parameter of this model`);
      if (r.info(n).shape.join() !== t.shape.join()) throw new FormatError(file, `tensor "${n}" has shape [${r.info(n).shape}], model has [${t.shape}]`);
      t.dev.write(t.buffer, 0, await r.readF32(n));
    }
  } finally {
    await src.close();
  }
}

/** Restores weights and optimizer moments from a checkpoint and returns the trainer state. */
export async function loadCheckpoint(dir: string, model: PeftModel | CausalLM, opt: AdamW, scaler: GradScaler | null = null): Promise<TrainerState> {
  const { path } = await node();
  const stateFile = path.join(dir, 'trainer_state.json');
  if (!(await pathExists(stateFile))) throw new FormatError(stateFile, 'missing: not a checkpoint folder of this trainer');
  const st = (await readJsonFile(stateFile)) as Record<string, unknown>;
  if (model instanceof PeftModel) {
    const params = new Map(model.namedParameters().map(([n, t]) => [n.replace('.default.', '.'), t] as [string, Tensor]));
    await readWeightsInto(path.join(dir, 'adapter_model.safetensors'), params, (n) => n);
  } else {
    await readWeightsInto(path.join(dir, 'model.safetensors'), new Map(model.namedParameters()), (n) => n);
  }
  const optFile = path.join(dir, 'optimizer.safetensors');
  const src = await fileSource(optFile);
  try {
    const r = await readSafetensors(src, optFile);
    const meta = r.header.metadata ?? {};
    const steps = JSON.parse(meta.param_steps ?? '{}') as Record<string, number>;
    const state: AdamWStateDict['state'] = {};
    for (const [name, step] of Object.entries(steps)) {
      state[name] = { step, expAvg: await r.readF32(`${name}.exp_avg`), expAvgSq: await r.readF32(`${name}.exp_avg_sq`) };
    }
    opt.loadStateDict({ step: Number(meta.step ?? 0), config: (await opt.stateDict()).config, state });
  } finally {
    await src.close();
  }
  const scalerFile = path.join(dir, 'scaler.json');
  if (scaler?.enabled && (await pathExists(scalerFile))) scaler.loadStateDict((await readJsonFile(scalerFile)) as Record<string, number>);
  return validTrainerState(st, stateFile);
}

/** trainer_state.json's fields, each checked: a step of "abc" must not resume at step NaN. */
export function validTrainerState(st: Record<string, unknown>, file: string): TrainerState {
  const int = (key: string, v: unknown, min: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new FormatError(file, `"${key}" must be an integer >= ${min}, got ${JSON.stringify(v) ?? String(v)}`);
    return v;
  };
  const num = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new FormatError(file, `"${key}" must be a finite number >= 0, got ${JSON.stringify(v) ?? String(v)}`);
    return v;
  };
  const log = st.log_history ?? [];
  if (!Array.isArray(log) || !log.every((e) => e !== null && typeof e === 'object' && !Array.isArray(e))) throw new FormatError(file, '"log_history" must be an array of objects');
  return {
    globalStep: int('global_step', st.global_step, 0),
    epoch: num('epoch', st.epoch),
    batchInEpoch: int('q_batch_in_epoch', st.q_batch_in_epoch ?? 0, 0),
    logHistory: log as LogEntry[],
    maxSteps: int('max_steps', st.max_steps, 0),
    numTrainEpochs: num('num_train_epochs', st.num_train_epochs),
    lrStep: int('q_lr_step', st.q_lr_step ?? st.global_step, 0),
  };
}
