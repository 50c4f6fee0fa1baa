/**
 * SFTTrainer: trl's supervised fine-tuning loop on @q. The loop reads like llm.c's:
 * batch → forward → loss → backward (× accumulation) → clip → step → zero → log.
 */
import { backward, keep, noGrad, scale, tidy, addInPlace, zeros, Rng, ConfigError, ValueError, type Tensor } from '@q/core';
import type { AutoTokenizer, CausalLM } from '@q/model';
import { nodeModules } from '@q/model';
import { getPeftModel, PeftModel, saveAdapter, type LoraConfig } from '@q/lora';
import { AdamW, clipGradNorm } from '@q/optim';
import { validateSftConfig, adamWFromArgs, scheduleFromArgs, type SFTConfig } from '../args';
import { Dataset } from '../dataset';
import { tokenizeRows, collate, packExamples, packBfd, type Example } from '../data';
import { saveCheckpoint, loadCheckpoint, listCheckpoints, type TrainerState } from './checkpoint';
import { terminalProgress, silentProgress, type ProgressSink } from './progress';
import { lossPlotSvg, type LogEntry } from './loss-plot';
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
  warn?: (m: string) => void;
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
  private padId: number;
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
    const tr = tokenizeRows(rowsOf(o.trainDataset), o.tokenizer, tokOpts);
    if (tr.report.padIsEos) {
      this.warn('pad token == eos token: padding is masked by the attention mask, not by token id, so eos labels are kept and the model still learns to stop');
    }
    if (tr.report.truncated) this.warn(`${tr.report.truncated} examples were truncated to maxLength ${this.args.maxLength}`);
    const maxLen = this.args.maxLength;
    this.trainSet = !this.args.packing || !maxLen ? tr.examples : this.args.packingStrategy === 'bfd' ? packBfd(tr.examples, maxLen) : packExamples(tr.examples, maxLen);
    if (this.trainSet.length === 0) throw new ValueError('the training set has no example with a label: check datasetTextField and the loss masks');
    this.evalSet = o.evalDataset ? tokenizeRows(rowsOf(o.evalDataset), o.tokenizer, tokOpts).examples : null;
    this.progress = o.progress === false ? silentProgress : (o.progress ?? terminalProgress());
    this.onLog = o.onLog;
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

  /** transformers: ceil(batches / accumulation), at least 1. */
  updatesPerEpoch(): number {
    return Math.max(1, Math.ceil(this.batchesPerEpoch() / this.args.gradientAccumulationSteps));
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
    await fs.mkdir(args.outputDir, { recursive: true });
    const params = this.model.trainableParameters();
    if (params.length === 0) throw new ValueError('no trainable parameters: give a peftConfig, or a model whose parameters require grad');
    const { config: adamCfg, warnings } = adamWFromArgs(args);
    for (const w of warnings) this.warn(w);
    const opt = new AdamW(params, adamCfg);
    const schedule = scheduleFromArgs(args, this.state.maxSteps);
    const resume = o.resumeFromCheckpoint ?? args.resumeFromCheckpoint;
    if (resume) {
      const dir = resume === true ? (await listCheckpoints(args.outputDir)).pop() : String(resume);
      if (!dir) throw new ValueError(`resumeFromCheckpoint: no checkpoint-* folder in ${args.outputDir}`);
      this.state = await loadCheckpoint(dir, this.model, opt, this.precision.scaler);
      this.progress.log(`resumed from ${dir} at step ${this.state.globalStep}`);
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
    const scaler = this.precision.scaler;
    const log = async (e: LogEntry) => {
      this.state.logHistory.push(e);
      await fs.appendFile(logFile, `${JSON.stringify(e)}\n`);
      this.onLog?.(e);
    };
    this.setTraining(true);
    try {
      while (this.state.globalStep < this.state.maxSteps) {
        const epoch = Math.floor(this.state.epoch);
        const order = this.order(epoch);
        // Gather the micro-batches of one optimizer step (fewer at the end of an epoch).
        const micro: Example[][] = [];
        while (micro.length < args.gradientAccumulationSteps && this.state.batchInEpoch < nb) {
          micro.push(this.microBatch(this.state.batchInEpoch++, order));
        }
        const batches = micro.map((m) => collate(m, this.padId, args.padToMultipleOf));
        const numItems = batches.reduce((a, b) => a + b.numItems, 0);
        const stepLoss = keep(zeros([]));
        batches.forEach((b, k) => {
          if (this.model instanceof PeftModel) this.model.seedDropout(args.seed * 7919 + this.state.globalStep * 131 + k);
          tidy(() => {
            const out = this.model.forward({ inputIds: b.inputIds, attentionMask: b.attentionMask, labels: b.labels, positionIds: b.positionIds, lossNormalizer: Math.max(numItems, 1) });
            // fp16: backward from the scaled loss; the step divides by the scale again.
            backward(scaler ? scale(out.loss!, scaler.getScale()) : out.loss!);
            addInPlace(stepLoss, out.loss!);
          });
          tokensSeen += b.tokens;
          tokWindow += b.tokens;
        });
        // Unscaling is folded into the norm and the update (1/scale is a power of two: exact).
        const inv = scaler ? scaler.invScale() : 1;
        const clip = clipGradNorm(opt.parameters(), args.maxGradNorm > 0 ? args.maxGradNorm : Infinity, { gradScale: inv });
        const [gradNorm, loss] = await Promise.all([clip.read(), stepLoss.item()]);
        stepLoss.release();
        const lrStep = this.state.lrStep ?? this.state.globalStep;
        const lr = schedule(lrStep);
        if (Number.isFinite(gradNorm)) opt.step(scaler ? { lr, gradScale: inv, gradScaleTensor: clip.coef } : { lr, gradScale: clip.coef });
        else if (!scaler) this.warn(`step ${this.state.globalStep + 1}: gradient norm is ${gradNorm}; the update was skipped`);
        // GradScaler: an overflow skips the step and halves the scale, and the schedule waits
        // (transformers steps its scheduler only when the optimizer step ran).
        const ran = scaler ? scaler.update(!Number.isFinite(gradNorm)) : true;
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
        this.progress.update(step, this.state.maxSteps, { loss, lr, 'tok/s': tps });
        const logNow = args.loggingStrategy === 'steps' && (step % args.loggingSteps === 0 || (args.loggingFirstStep && step === 1) || step === this.state.maxSteps);
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
        const evalEvery = args.evalStrategy === 'steps' ? (args.evalSteps ?? args.loggingSteps) : 0;
        if (this.evalSet && evalEvery > 0 && step % evalEvery === 0) {
          const ev = await this.evaluate();
          await log({ step, epoch: this.state.epoch, eval_loss: ev.evalLoss });
          this.progress.log(`step ${step}: eval_loss ${ev.evalLoss.toFixed(4)}`);
        }
        if (args.saveStrategy === 'steps' && args.saveSteps > 0 && step % args.saveSteps === 0 && step < this.state.maxSteps) {
          const dir = await saveCheckpoint(args.outputDir, this.model, opt, this.state, { ...args }, args.saveTotalLimit, scaler);
          this.progress.log(`saved ${dir}`);
        }
      }
      if (this.evalSet && args.evalStrategy !== 'no') {
        const ev = await this.evaluate();
        await log({ step: this.state.globalStep, epoch: this.state.epoch, eval_loss: ev.evalLoss });
      }
      if (args.saveStrategy !== 'no') await saveCheckpoint(args.outputDir, this.model, opt, this.state, { ...args }, args.saveTotalLimit, scaler);
    } finally {
      this.progress.done();
      opt.release();
      this.setTraining(false);
    }
    await fs.writeFile(path.join(args.outputDir, 'loss.svg'), lossPlotSvg(this.state.logHistory, 'training loss'));
    const seconds = (Date.now() - t0) / 1000;
    const losses = this.state.logHistory.filter((e) => e.loss !== undefined);
    return {
      globalStep: this.state.globalStep,
      trainingLoss: losses.length ? losses.reduce((a, e) => a + e.loss!, 0) / losses.length : NaN,
      metrics: { trainRuntime: seconds, trainTokensPerSecond: tokensSeen / seconds, peakGpuBytes: dev.memory().peakBytes },
    };
  }

  /** Mean token loss over the eval set (no dropout, no gradients). */
  async evaluate(examples: Example[] | null = this.evalSet): Promise<{ evalLoss: number }> {
    if (!examples || examples.length === 0) throw new ValueError('evaluate: no evalDataset');
    const wasTraining = this.model instanceof PeftModel && this.model.isTraining;
    this.setTraining(false);
    const total = keep(zeros([]));
    let items = 0;
    const b = this.args.perDeviceEvalBatchSize;
    for (let i = 0; i < examples.length; i += b) {
      const batch = collate(examples.slice(i, i + b), this.padId);
      noGrad(() =>
        tidy(() => {
          const out = this.model.forward({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, labels: batch.labels, lossNormalizer: 1 });
          addInPlace(total, out.loss!);
        }),
      );
      items += batch.numItems;
    }
    const sum = await total.item();
    total.release();
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
