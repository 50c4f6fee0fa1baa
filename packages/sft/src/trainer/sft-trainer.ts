/**
 * SFTTrainer: trl's supervised fine-tuning loop on @q. The loop reads like llm.c's:
 * batch → forward → loss → backward (× accumulation) → clip → step → zero → log.
 */
import { backward, keep, noGrad, scale, tidy, zeros, Rng, ConfigError, ValueError, type Tensor } from '@q/core';
import { addInPlace } from '@q/core/kernel';
import type { AutoTokenizer, CausalLM } from '@q/model';
import { atomicWriteFile, nodeModules, lockDir, recoverFolder, recoverFolders } from '@q/model';
import { getPeftModel, PeftModel, saveAdapter, type LoraConfig } from '@q/lora';
import { AdamW, clipGradNorm } from '@q/optim';
import { validateSftConfig, adamWFromArgs, scheduleFromArgs, type SFTConfig } from '../args';
import { Dataset } from '../dataset';
import { tokenizeRows, collate, prepareExamples, type Example } from '../data';
import { saveCheckpoint, loadCheckpoint, listCheckpoints, type TrainerState } from './checkpoint';
import { NonFiniteGuard } from './nonfinite-guard';
import { terminalProgress, silentProgress, type ProgressSink } from './progress';
import { lossPlotSvg, type LogEntry } from './loss-plot';
import { detectMpiLaunch, GradientSync, microBatchesPerStep, openWorld, shardMicroBatches, type Communicator } from '../distributed';
import type { TrainerCallback } from './callbacks';
import { resolvePrecision, type Precision } from './mixed-precision';

type Rows = Dataset<Record<string, unknown>> | Record<string, unknown>[];

export interface SFTTrainerOptions {
  model: CausalLM | PeftModel;
  /** trl's processing_class / tokenizer. */
  tokenizer: AutoTokenizer;
  trainDataset: Rows;
  evalDataset?: Rows;
  /** SFTConfig / TrainingArguments fields, camelCase or snake_case. */
  args?: Partial<SFTConfig> | Record<string, unknown>;
  /** LoRA config: the model is wrapped with getPeftModel. Leave out for full fine-tuning. */
  peftConfig?: Partial<LoraConfig> | Record<string, unknown>;
  /** The seed tutorial's older argument names, kept for familiarity. */
  maxSeqLength?: number;
  datasetTextField?: string;
  packing?: boolean;
  /** A progress sink; default a terminal bar, `false` for none. */
  progress?: ProgressSink | false;
  /** Called with each log entry (loss, learning_rate, grad_norm, tokens_per_second, eval_loss). */
  onLog?: (e: LogEntry) => void;
  /** Hooks after each optimizer step (transformers' TrainerCallback): pause, stop, save. */
  callbacks?: TrainerCallback[];
  warn?: (m: string) => void;
  /**
   * The data-parallel world (see ../distributed). Default: MPI when the process was started by
   * mpirun (OMPI_COMM_WORLD_* set), else one process. Only rank 0 logs, shows progress and saves.
   */
  communicator?: Communicator;
}

export interface TrainOutput {
  globalStep: number;
  trainingLoss: number;
  metrics: { trainRuntime: number; trainTokensPerSecond: number; peakGpuBytes: number };
}

// Node built-ins through @q/model's loader, so a browser bundle of this package still builds.
const node = nodeModules;

function rowsOf(d: Rows): Record<string, unknown>[] {
  return Array.isArray(d) ? d : [...d];
}

export class SFTTrainer {
  readonly model: PeftModel | CausalLM;
  readonly args: SFTConfig;
  readonly tokenizer: AutoTokenizer;
  state: TrainerState;
  private trainSet: Example[];
  private evalSet: Example[] | null;
  private progress: ProgressSink;
  private warn: (m: string) => void;
  private onLog?: (e: LogEntry) => void;
  private callbacks: TrainerCallback[];
  private padId: number;
  private comm: Communicator | null;
  /** Data-parallel ranks and this process's rank, known from the launch before MPI starts. */
  private world: { rank: number; size: number };
  /** What fp16/bf16 do here (compute dtype, loss scaler); `precision.description` says it in words. */
  readonly precision: Precision;

  constructor(o: SFTTrainerOptions) {
    this.warn = o.warn ?? ((m) => console.warn(`[q/sft] ${m}`));
    const raw = { ...(o.args ?? {}) } as Record<string, unknown>;
    if (o.maxSeqLength !== undefined) raw.maxLength = o.maxSeqLength;
    if (o.datasetTextField !== undefined) raw.datasetTextField = o.datasetTextField;
    if (o.packing !== undefined) raw.packing = o.packing;
    this.args = validateSftConfig(raw, { warn: this.warn });
    this.tokenizer = o.tokenizer;
    const base = o.model;
    if (o.peftConfig) {
      if (base instanceof PeftModel) throw new ConfigError('peftConfig', 'no peftConfig when the model is already a PeftModel', 'given', 'SFTTrainer');
      this.model = getPeftModel(base, o.peftConfig, { seed: this.args.seed });
    } else {
      this.model = base;
      if (!(base instanceof PeftModel)) for (const [, t] of base.namedParameters()) t.requiresGrad = true;
    }
    const cm = this.causal();
    this.precision = resolvePrecision(this.args, cm, this.warn);
    if (this.args.gradientCheckpointing) cm.gradientCheckpointingEnable();
    cm.useCache = false;
    const pad = o.tokenizer.padTokenId ?? o.tokenizer.eosTokenId;
    if (pad === null) throw new ValueError('the tokenizer has neither a pad nor an eos token: set tokenizer_config.json pad_token');
    this.padId = pad;
    const tokOpts = {
      datasetTextField: this.args.datasetTextField,
      maxLength: this.args.maxLength,
      completionOnlyLoss: this.args.completionOnlyLoss,
      assistantOnlyLoss: this.args.assistantOnlyLoss,
      appendEos: true,
    };
    const trainRows = rowsOf(o.trainDataset);
    if (trainRows.length === 0) throw new ValueError('the training dataset has no rows (is the data file empty?)');
    const tr = prepareExamples(trainRows, o.tokenizer, { ...tokOpts, packing: this.args.packing, packingStrategy: this.args.packingStrategy });
    if (tr.report.noLabel > 0 && tr.report.noLabel < tr.report.rows) {
      const fate = this.args.packing && this.args.maxLength ? 'were packed anyway, as trl does' : 'were dropped';
      this.warn(`${tr.report.noLabel} of ${tr.report.rows} training rows have no token to learn (every label masked) and ${fate}`);
    }
    if (tr.report.padIsEos) {
      this.warn('pad token == eos token: padding is masked by the attention mask, not by token id, so eos labels are kept and the model still learns to stop');
    }
    if (tr.report.truncated) this.warn(`${tr.report.truncated} examples were truncated to maxLength ${this.args.maxLength}`);
    this.trainSet = tr.examples;
    if (this.trainSet.length === 0 || tr.report.noLabel === tr.report.rows) {
      throw new ValueError(
        `none of the ${tr.report.rows} training rows has a token to learn: every label is masked (check completion_only_loss / assistant_only_loss and the chat template's {% generation %} markers)`,
      );
    }
    this.evalSet = o.evalDataset ? tokenizeRows(rowsOf(o.evalDataset), o.tokenizer, tokOpts).examples : null;
    this.comm = o.communicator ?? null;
    const launch = o.communicator ?? detectMpiLaunch();
    this.world = { rank: launch?.rank ?? 0, size: launch?.size ?? 1 };
    this.progress = o.progress === false || this.world.rank !== 0 ? silentProgress : (o.progress ?? terminalProgress());
    this.onLog = o.onLog;
    this.callbacks = o.callbacks ?? [];
    const perEpoch = this.updatesPerEpoch();
    const maxSteps = this.args.maxSteps > 0 ? this.args.maxSteps : Math.ceil(this.args.numTrainEpochs * perEpoch);
    this.state = { globalStep: 0, epoch: 0, batchInEpoch: 0, logHistory: [], maxSteps, numTrainEpochs: Math.ceil(maxSteps / perEpoch) };
  }

  private causal(): CausalLM {
    return this.model instanceof PeftModel ? this.model.base : this.model;
  }

  private batchesPerEpoch(): number {
    const b = this.args.perDeviceTrainBatchSize;
    return this.args.dataloaderDropLast ? Math.floor(this.trainSet.length / b) : Math.ceil(this.trainSet.length / b);
  }

  /** transformers: ceil(batches / (accumulation × ranks)), at least 1. */
  updatesPerEpoch(): number {
    return Math.max(1, Math.ceil(this.batchesPerEpoch() / microBatchesPerStep(this.args.gradientAccumulationSteps, this.world.size)));
  }

  /** The order of examples in an epoch: shuffled by (dataSeed, epoch), reproducible on resume. */
  private order(epoch: number): number[] {
    const idx = [...this.trainSet.keys()];
    const rng = new Rng(((this.args.dataSeed ?? this.args.seed) * 1000003 + epoch) >>> 0);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    return idx;
  }

  private microBatch(k: number, order: number[]): Example[] {
    const b = this.args.perDeviceTrainBatchSize;
    return order.slice(k * b, k * b + b).map((i) => this.trainSet[i]!);
  }

  private setTraining(on: boolean): void {
    if (this.model instanceof PeftModel) (on ? this.model.train() : this.model.eval());
  }

  /**
   * Trains for maxSteps or numTrainEpochs; resumes from `resumeFromCheckpoint` (true: the latest
   * checkpoint in outputDir) exactly where it stopped.
   */
  async train(o: { resumeFromCheckpoint?: string | boolean } = {}): Promise<TrainOutput> {
    const args = this.args;
    const { fs, path } = await node();
    const comm = this.comm ?? (await openWorld());
    if (comm.size !== this.world.size || comm.rank !== this.world.rank) {
      throw new ValueError(`the communicator is rank ${comm.rank} of ${comm.size}, the trainer was built for rank ${this.world.rank} of ${this.world.size}`);
    }
    // Rank 0 writes every file (and alone locks output_dir); the others only compute.
    const lead = comm.rank === 0;
    if (!lead) return this.trainLocked(o, fs, path, comm, lead);
    // A save of output_dir itself (the adapter at its top) that a kill interrupted is finished
    // first, or its checkpoints would be out of sight in a temporary folder.
    for (const n of await recoverFolder(args.outputDir)) this.warn(n);
    await fs.mkdir(args.outputDir, { recursive: true });
    // One run per output_dir; a lock left by a dead process is taken over.
    const lock = await lockDir(args.outputDir, `SFTTrainer.train (${args.outputDir})`);
    for (const n of lock.notes) this.warn(n);
    try {
      return await this.trainLocked(o, fs, path, comm, lead);
    } finally {
      await lock.release();
    }
  }

  private async trainLocked(
    o: { resumeFromCheckpoint?: string | boolean },
    fs: Awaited<ReturnType<typeof node>>['fs'],
    path: Awaited<ReturnType<typeof node>>['path'],
    comm: Communicator,
    lead: boolean,
  ): Promise<TrainOutput> {
    const args = this.args;
    // Finish or remove what a killed run left half-written (checkpoints, the adapter).
    if (lead) for (const n of await recoverFolders(args.outputDir)) this.warn(n);
    const sync = new GradientSync(comm);
    const params = this.model.trainableParameters();
    if (params.length === 0) throw new ValueError('no trainable parameters: give a peftConfig, or a model whose parameters require grad');
    const { config: adamCfg, warnings } = adamWFromArgs(args);
    for (const w of warnings) this.warn(w);
    const opt = new AdamW(params, adamCfg);
    const schedule = scheduleFromArgs(args, this.state.maxSteps);
    const scaler = this.precision.scaler;
    let lastCheckpoint: string | null = null;
    const guard = new NonFiniteGuard({ lossScaling: !!scaler, lastGood: () => lastCheckpoint });
    // transformers reads logging/eval/save steps below 1 as a fraction of all steps.
    const ratio = (x: number) => (x > 0 && x < 1 ? Math.ceil(this.state.maxSteps * x) : x);
    const saveSteps = ratio(args.saveSteps);
    const loggingSteps = Math.max(1, ratio(args.loggingSteps));
    const resume = o.resumeFromCheckpoint ?? args.resumeFromCheckpoint;
    if (resume) {
      const dir = resume === true ? (await listCheckpoints(args.outputDir)).pop() : String(resume);
      if (!dir) throw new ValueError(`resumeFromCheckpoint: no checkpoint-* folder in ${args.outputDir}`);
      const saved = await loadCheckpoint(dir, this.model, opt, this.precision.scaler);
      // transformers: max_steps and the epochs come from the current arguments, not the checkpoint,
      // so a run resumed with a larger max_steps trains on to it.
      this.state = { ...saved, maxSteps: this.state.maxSteps, numTrainEpochs: this.state.numTrainEpochs };
      // Entries logged after the checkpoint (by the run that was stopped) are dropped, so steps
      // are not repeated in trainer_log.jsonl.
      if (lead) await this.rewriteLog(path.join(args.outputDir, 'trainer_log.jsonl'), this.state.globalStep);
      this.progress.log(`resumed from ${dir} at step ${this.state.globalStep}`);
      lastCheckpoint = dir;
    }
    const logFile = path.join(args.outputDir, 'trainer_log.jsonl');
    const dev = this.causal().dev;
    dev.pool.resetPeak();
    const t0 = Date.now();
    let tokensSeen = 0;
    let lossSum = 0;
    let lossCount = 0;
    let tokWindow = 0;
    let tWindow = Date.now();
    const nb = this.batchesPerEpoch();
    const log = async (e: LogEntry) => {
      this.state.logHistory.push(e);
      if (!lead) return;
      await fs.appendFile(logFile, `${JSON.stringify(e)}\n`);
      this.onLog?.(e);
    };
    let lastEval = -1;
    this.setTraining(true);
    try {
      while (this.state.globalStep < this.state.maxSteps) {
        const epoch = Math.floor(this.state.epoch);
        const order = this.order(epoch);
        // The micro-batches of one optimizer step (fewer at the end of an epoch): accumulation × ranks
        // of them, this rank's share run here (../distributed/shard.ts).
        const first = this.state.batchInEpoch;
        const count = Math.min(microBatchesPerStep(args.gradientAccumulationSteps, comm.size), nb - first);
        this.state.batchInEpoch += count;
        const mine = shardMicroBatches(first, count, comm.rank, comm.size);
        const batches = mine.map((k) => collate(this.microBatch(k, order), this.padId, args.padToMultipleOf));
        // The loss is divided by the label tokens of the whole global step (num_items_in_batch).
        const [numItems, stepTokens] = sync.sum([batches.reduce((a, b) => a + b.numItems, 0), batches.reduce((a, b) => a + b.tokens, 0)]);
        const stepLoss = keep(zeros([]));
        batches.forEach((b, i) => {
          // Seeded by the micro-batch's place in the global step, as a single process would.
          const k = mine[i]! - first;
          if (this.model instanceof PeftModel) this.model.seedDropout(args.seed * 7919 + this.state.globalStep * 131 + k);
          tidy(() => {
            const out = this.model.forward({ inputIds: b.inputIds, attentionMask: b.attentionMask, labels: b.labels, positionIds: b.positionIds, lossNormalizer: Math.max(numItems!, 1) });
            // fp16: backward from the scaled loss; the step divides by the scale again.
            backward(scaler ? scale(out.loss!, scaler.getScale()) : out.loss!);
            addInPlace(stepLoss, out.loss!);
          });
        });
        tokensSeen += stepTokens!;
        tokWindow += stepTokens!;
        // Sum across ranks once per optimizer step, after accumulation; clipping sees the sum.
        await sync.allreduce(opt.parameters(), [stepLoss]);
        // Unscaling is folded into the norm and the update (1/scale is a power of two: exact).
        const inv = scaler ? scaler.invScale() : 1;
        // max_grad_norm 0 turns clipping off (transformers); the norm is still measured for the guard.
        const clip = clipGradNorm(opt.parameters(), args.maxGradNorm > 0 ? args.maxGradNorm : 3.4e38, { gradScale: inv });
        const [gradNorm, loss] = await Promise.all([clip.read(), stepLoss.item()]);
        stepLoss.release();
        const lrStep = this.state.lrStep ?? this.state.globalStep;
        const lr = schedule(lrStep);
        let verdict: 'update' | 'skip';
        try {
          verdict = guard.check(this.state.globalStep + 1, loss, gradNorm);
        } catch (e) {
          clip.release();
          opt.zeroGrad();
          throw e;
        }
        if (verdict === 'update') opt.step(scaler ? { lr, gradScale: inv, gradScaleTensor: clip.coef } : { lr, gradScale: clip.coef });
        else if (!scaler) this.warn(`step ${this.state.globalStep + 1}: gradient norm is ${gradNorm}; the update was skipped`);
        // GradScaler: an overflow skips the step and halves the scale, and the schedule waits
        // (transformers steps its scheduler only when the optimizer step ran).
        const ran = scaler ? scaler.update(verdict === 'skip') : true;
        this.state.lrStep = ran ? lrStep + 1 : lrStep;
        clip.release();
        opt.zeroGrad();
        this.state.globalStep++;
        if (this.state.batchInEpoch >= nb) {
          this.state.batchInEpoch = 0;
          this.state.epoch = epoch + 1;
        } else this.state.epoch = epoch + this.state.batchInEpoch / nb;
        lossSum += loss;
        lossCount++;
        const step = this.state.globalStep;
        const now = Date.now();
        const tps = tokWindow / Math.max(1e-3, (now - tWindow) / 1000);
        // The bar shows the mean loss of the current logging window: what the log line will say.
        this.progress.update(step, this.state.maxSteps, { loss: lossSum / lossCount, lr, 'tok/s': tps });
        const logNow = args.loggingStrategy === 'steps' && (step % loggingSteps === 0 || (args.loggingFirstStep && step === 1) || step === this.state.maxSteps);
        if (logNow) {
          const e: LogEntry = {
            step,
            epoch: Number(this.state.epoch.toFixed(4)),
            loss: lossSum / lossCount,
            learning_rate: lr,
            grad_norm: gradNorm,
            tokens_per_second: tps,
          };
          lossSum = 0;
          lossCount = 0;
          tokWindow = 0;
          tWindow = now;
          await log(e);
          this.progress.log(`step ${step}: loss ${e.loss!.toFixed(4)} | lr ${lr.toExponential(2)} | grad_norm ${gradNorm.toFixed(3)} | ${Math.round(tps)} tok/s`);
        }
        const epochEnded = this.state.batchInEpoch === 0;
        const evalEvery = args.evalStrategy === 'steps' ? ratio(args.evalSteps ?? args.loggingSteps) : 0;
        if (this.evalSet && ((evalEvery > 0 && step % evalEvery === 0) || (args.evalStrategy === 'epoch' && epochEnded))) {
          const ev = await this.evaluate();
          await log({ step, epoch: this.state.epoch, eval_loss: ev.evalLoss });
          this.progress.log(`step ${step}: eval_loss ${ev.evalLoss.toFixed(4)}`);
          lastEval = step;
        }
        let stop = false;
        let save = (args.saveStrategy === 'steps' && saveSteps > 0 && step % saveSteps === 0) || (args.saveStrategy === 'epoch' && epochEnded);
        // NOTE: callbacks act per process; under data parallelism only rank 0 has a UI to ask.
        for (const cb of this.callbacks) {
          const c = await cb.onStepEnd?.(this.state);
          stop ||= !!c?.shouldTrainingStop;
          save ||= !!c?.shouldSave;
        }
        // The last step's checkpoint (and a stopped run's) is written once, after the loop.
        if (lead && save && step < this.state.maxSteps && !stop) {
          await this.checkWeights(guard, step);
          lastCheckpoint = await saveCheckpoint(args.outputDir, this.model, opt, this.state, { ...args }, args.saveTotalLimit, scaler);
          this.progress.log(`saved ${lastCheckpoint}`);
        }
        if (stop) {
          this.progress.log(`training stopped by a callback at step ${step}`);
          break;
        }
      }
      // The final evaluation, unless the last step was just evaluated (it was logged twice).
      if (this.evalSet && args.evalStrategy !== 'no' && lastEval !== this.state.globalStep) {
        const ev = await this.evaluate();
        await log({ step: this.state.globalStep, epoch: this.state.epoch, eval_loss: ev.evalLoss });
      }
      await this.checkWeights(guard, this.state.globalStep);
      if (lead && args.saveStrategy !== 'no') await saveCheckpoint(args.outputDir, this.model, opt, this.state, { ...args }, args.saveTotalLimit, scaler);
    } catch (e) {
      // One rank's failure ends the job, or the others would wait forever in their next all-reduce.
      if (comm.size > 1) comm.abort(1, `[q/sft] rank ${comm.rank}: ${(e as Error).stack ?? e}`);
      throw e;
    } finally {
      this.progress.done();
      opt.release();
      sync.release();
      this.setTraining(false);
    }
    if (lead) await atomicWriteFile(path.join(args.outputDir, 'loss.svg'), lossPlotSvg(this.state.logHistory, 'training loss'));
    const seconds = (Date.now() - t0) / 1000;
    const losses = this.state.logHistory.filter((e) => e.loss !== undefined);
    return {
      globalStep: this.state.globalStep,
      trainingLoss: losses.length ? losses.reduce((a, e) => a + e.loss!, 0) / losses.length : NaN,
      metrics: { trainRuntime: seconds, trainTokensPerSecond: tokensSeen / seconds, peakGpuBytes: dev.memory().peakBytes },
    };
  }

  /** The trainable weights, read back and checked: a non-finite one stops the run, unsaved. */
  private async checkWeights(guard: NonFiniteGuard, step: number): Promise<void> {
    const named = this.model.namedParameters().filter(([, t]) => t.requiresGrad);
    const data = await Promise.all(named.map(async ([n, t]) => [n, (await t.read()) as Float32Array] as [string, Float32Array]));
    guard.checkWeights(step, data);
  }

  /** Keeps the lines of trainer_log.jsonl up to `step` (a resumed run logs the later ones again). */
  private async rewriteLog(file: string, step: number): Promise<void> {
    const { fs } = await node();
    const text = await fs.readFile(file, 'utf8').catch(() => null);
    if (text === null) return;
    const kept = text.split('\n').filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as LogEntry).step <= step;
      } catch {
        return false;
      }
    });
    await atomicWriteFile(file, kept.map((l) => `${l}\n`).join(''));
  }

  /** Mean token loss over the eval set (no dropout, no gradients). */
  async evaluate(examples: Example[] | null = this.evalSet): Promise<{ evalLoss: number }> {
    if (!examples || examples.length === 0) throw new ValueError('evaluate: no evalDataset');
    const wasTraining = this.model instanceof PeftModel && this.model.isTraining;
    this.setTraining(false);
    const total = keep(zeros([]));
    let items = 0;
    const b = this.args.perDeviceEvalBatchSize;
    // Under data parallelism each rank evaluates every size-th batch and the sums are added.
    const comm = this.world.size > 1 ? (this.comm ?? (await openWorld())) : null;
    for (let i = (comm?.rank ?? 0) * b; i < examples.length; i += b * (comm?.size ?? 1)) {
      const batch = collate(examples.slice(i, i + b), this.padId);
      noGrad(() =>
        tidy(() => {
          const out = this.model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, labels: batch.labels, lossNormalizer: 1 });
          addInPlace(total, out.loss!);
        }),
      );
      items += batch.numItems;
    }
    let sum = await total.item();
    total.release();
    if (comm) [sum, items] = new GradientSync(comm).sum([sum, items]) as [number, number];
    if (wasTraining) this.setTraining(true);
    return { evalLoss: sum / Math.max(items, 1) };
  }

  /** trainer.save_model(dir): the adapter for LoRA runs, the full model otherwise. */
  async saveModel(dir = this.args.outputDir): Promise<void> {
    if (this.model instanceof PeftModel) await saveAdapter(this.model, dir);
    else {
      const { savePretrained } = await import('@q/model');
      await savePretrained(this.model, dir);
    }
  }
}

export type { Tensor };
