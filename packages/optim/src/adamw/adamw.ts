/**
 * AdamW on the GPU with torch.optim.AdamW's semantics: f32 moments allocated on a parameter's
 * first step, one fused kernel per parameter (adamw-kernel.ts), per-parameter step counts, and a
 * state dict that resumes bit-identically.
 */
import { Tensor, ShapeError, ValueError, keep, tensor, zeros, type QDevice } from '@q/core';
import { fillInPlace, launch, grid1d } from '@q/core/kernel';
import { validateAdamWConfig, type AdamWConfig } from '../config';
import { ADAMW_KERNEL, adamwUniforms } from './adamw-kernel';

/** A named trainable parameter: f32, with its gradient in `.grad` after backward. */
export type NamedParameter = readonly [name: string, param: Tensor];

/** Options of one {@link AdamW.step}. */
export interface AdamWStepOptions {
  /** Learning rate of this step (a schedule's value); default: the config's `lr`. */
  lr?: number;
  /**
   * Multiplies every gradient inside the update, so loss normalisation or a clip coefficient
   * costs no extra pass. A number is a uniform; a 1-element f32 tensor (e.g. `clipGradNorm(...).coef`)
   * is read on the GPU, without a host round trip. Default 1.
   */
  gradScale?: number | Tensor;
  /** A second GPU scale applied after `gradScale` when both a number and a tensor are needed. */
  gradScaleTensor?: Tensor;
}

/** Per-parameter optimizer state on the host, as in torch's `optimizer.state_dict()['state']`. */
export interface AdamWParamState {
  /** Steps this parameter has taken (torch's `state['step']`). */
  step: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

/** What {@link AdamW.stateDict} returns and {@link AdamW.loadStateDict} takes. */
export interface AdamWStateDict {
  /** Optimizer steps taken (calls of `step`). */
  step: number;
  /** The config the states were made with (for inspection; loading does not change the config). */
  config: AdamWConfig;
  /** States by parameter name; parameters that never had a gradient have none. */
  state: Record<string, AdamWParamState>;
}

interface Slot {
  name: string;
  param: Tensor;
  step: number;
  expAvg: Tensor | null;
  expAvgSq: Tensor | null;
}

/**
 * AdamW (decoupled weight decay) over named f32 parameters.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model.namedTrainable(), { lr: 2e-4, weightDecay: 0.01 });
 * backward(loss);
 * const clip = clipGradNorm(opt.parameters(), 1.0);
 * opt.step({ lr: schedule(step), gradScale: clip.coef });
 * opt.zeroGrad();
 * console.log(await clip.read());
 * clip.release();
 * ```
 */
export class AdamW {
  readonly config: AdamWConfig;
  private readonly slots: Slot[];
  private steps = 0;
  private one: Tensor | null = null;
  private released = false;

  constructor(params: Iterable<NamedParameter>, config: Partial<AdamWConfig> | Record<string, unknown> = {}) {
    this.config = validateAdamWConfig(config);
    this.slots = [];
    const seen = new Set<string>();
    for (const [name, param] of params) {
      if (seen.has(name)) throw new ValueError(`AdamW: parameter name "${name}" appears twice`);
      seen.add(name);
      if (param.dtype !== 'f32') throw new ShapeError(`AdamW: parameter "${name}" is ${param.dtype}; only f32 parameters are optimized`);
      this.slots.push({ name, param, step: 0, expAvg: null, expAvgSq: null });
    }
  }

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** The parameters, in the order given (what `clipGradNorm` takes). */
  parameters(): Tensor[] {
    return this.slots.map((s) => s.param);
  }

  /**
   * One update of every parameter that has a gradient (others are skipped, as torch skips
   * `grad is None`). Only records GPU work; nothing waits.
   */
  step(opts: number | AdamWStepOptions = {}): void {
    this.checkLive();
    const o = typeof opts === 'number' ? { lr: opts } : opts;
    const lr = o.lr ?? this.config.lr;
    if (!Number.isFinite(lr) || lr < 0) throw new ValueError(`AdamW.step: lr must be a finite number >= 0, got ${lr}`);
    const numScale = typeof o.gradScale === 'number' ? o.gradScale : 1;
    const tScales = [o.gradScale, o.gradScaleTensor].filter((t): t is Tensor => t instanceof Tensor);
    if (tScales.length > 1) throw new ValueError('AdamW.step: give at most one gradient scale tensor');
    const scaleT = tScales[0] ?? this.ones();
    if (scaleT.size !== 1 || scaleT.dtype !== 'f32') {
      throw new ShapeError(`AdamW.step: gradScale tensor must be one f32 element, got [${scaleT.shape}] ${scaleT.dtype}`);
    }
    const [beta1, beta2] = this.config.betas;
    for (const s of this.slots) {
      const g = s.param.grad;
      if (!g) continue;
      if (g.size !== s.param.size || g.dtype !== 'f32') {
        throw new ShapeError(`AdamW.step: gradient of "${s.name}" is [${g.shape}] ${g.dtype}, parameter is [${s.param.shape}] f32`);
      }
      if (s.param.size === 0) continue;
      if (!s.expAvg || !s.expAvgSq) {
        s.expAvg = keep(zeros([...s.param.shape], { dev: s.param.dev }));
        s.expAvgSq = keep(zeros([...s.param.shape], { dev: s.param.dev }));
      }
      s.step++;
      const u = adamwUniforms({
        n: s.param.size,
        lr,
        beta1,
        beta2,
        eps: this.config.eps,
        weightDecay: this.config.weightDecay,
        step: s.step,
        gradScale: numScale,
      });
      launch(ADAMW_KERNEL, [s.param, g, s.expAvg, s.expAvgSq, scaleT], grid1d(s.param.size), u);
    }
    this.steps++;
  }

  /**
   * Clears gradients: releases them and sets `.grad = null` (torch's default `set_to_none=True`),
   * or fills them with zeros when `setToNone` is false.
   */
  zeroGrad(setToNone = true): void {
    for (const { param } of this.slots) {
      if (!param.grad) continue;
      if (setToNone) {
        param.grad.release();
        param.grad = null;
      } else fillInPlace(param.grad, 0);
    }
  }

  /** Reads step counts and moments back to the host (waits for the GPU). */
  async stateDict(): Promise<AdamWStateDict> {
    this.checkLive();
    const state: Record<string, AdamWParamState> = {};
    for (const s of this.slots) {
      if (!s.expAvg || !s.expAvgSq) continue;
      const [expAvg, expAvgSq] = await Promise.all([s.expAvg.read(), s.expAvgSq.read()]);
      state[s.name] = { step: s.step, expAvg: expAvg as Float32Array, expAvgSq: expAvgSq as Float32Array };
    }
    return { step: this.steps, config: { ...this.config, betas: [...this.config.betas] }, state };
  }

  /**
   * Restores states saved by {@link stateDict}; parameters absent from it start fresh. Throws
   * {@link ValueError} for names this optimizer does not have or sizes that differ.
   */
  loadStateDict(sd: AdamWStateDict): void {
    this.checkLive();
    const byName = new Map(this.slots.map((s) => [s.name, s]));
    for (const [name, st] of Object.entries(sd.state)) {
      const s = byName.get(name);
      if (!s) throw new ValueError(`AdamW.loadStateDict: no parameter named "${name}" in this optimizer`);
      for (const [k, a] of [['expAvg', st.expAvg], ['expAvgSq', st.expAvgSq]] as const) {
        if (a.length !== s.param.size) {
          throw new ValueError(`AdamW.loadStateDict: "${name}".${k} has ${a.length} values, parameter [${s.param.shape}] has ${s.param.size}`);
        }
      }
      if (!Number.isInteger(st.step) || st.step < 0) throw new ValueError(`AdamW.loadStateDict: "${name}".step must be an integer >= 0, got ${st.step}`);
    }
    for (const s of this.slots) this.freeState(s);
    for (const [name, st] of Object.entries(sd.state)) {
      const s = byName.get(name)!;
      const shape = [...s.param.shape];
      s.expAvg = keep(tensor(Float32Array.from(st.expAvg), shape, { dev: s.param.dev }));
      s.expAvgSq = keep(tensor(Float32Array.from(st.expAvgSq), shape, { dev: s.param.dev }));
      s.step = st.step;
    }
    this.steps = sd.step;
  }

  /** GPU bytes the moments hold now (2 × 4 bytes per element of every parameter that has stepped). */
  stateBytes(): number {
    return this.slots.reduce((b, s) => b + (s.expAvg ? s.expAvg.bytes + s.expAvgSq!.bytes : 0), 0);
  }

  /** Frees every state tensor; the optimizer cannot step afterwards. Parameters are not touched. */
  release(): void {
    for (const s of this.slots) this.freeState(s);
    this.one?.release();
    this.one = null;
    this.released = true;
  }

  private freeState(s: Slot): void {
    s.expAvg?.release();
    s.expAvgSq?.release();
    s.expAvg = s.expAvgSq = null;
    s.step = 0;
  }

  private ones(): Tensor {
    const dev: QDevice | undefined = this.slots[0]?.param.dev;
    this.one ??= keep(tensor([1], [1], { dev }));
    return this.one;
  }

  private checkLive(): void {
    if (this.released) throw new ValueError('AdamW: used after release()');
  }
}
