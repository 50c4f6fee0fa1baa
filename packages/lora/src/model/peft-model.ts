/**
 * get_peft_model for @q: wraps the target projections of a CausalLM in LoRA layers, freezes the
 * rest, and saves/loads adapters in PEFT's file format (adapter_config.json +
 * adapter_model.safetensors with peft's key names).
 */
import { ConfigError, type Tensor } from '@q/core';
import type { CausalLM, ForwardOptions, ForwardOutput, LinearLike } from '@q/model';
import { matchesTargetModule, moduleLoraParams, validateLoraConfig, defaultTargetModules, type LoraConfig } from '../config';
import { LoraLinear } from '../layers/lora-linear';

/** peft's prefix for the wrapped model's names in adapter files. */
export const PEFT_PREFIX = 'base_model.model.';

export interface GetPeftModelOptions {
  /** Seed of the LoRA A initialisation (peft uses torch's global RNG). */
  seed?: number;
}

export class PeftModel {
  readonly layers = new Map<string, LoraLinear>();
  private training = true;

  constructor(
    readonly base: CausalLM,
    readonly peftConfig: LoraConfig,
  ) {}

  get config() {
    return this.base.config;
  }

  forward(o: ForwardOptions): ForwardOutput {
    return this.base.forward(o);
  }

  /** nn.Module.train(): LoRA dropout on. */
  train(): this {
    this.training = true;
    for (const l of this.layers.values()) l.training = true;
    return this;
  }

  /** nn.Module.eval(): LoRA dropout off. */
  eval(): this {
    this.training = false;
    for (const l of this.layers.values()) l.training = false;
    return this;
  }

  get isTraining(): boolean {
    return this.training;
  }

  /** Sets the dropout masks' seed for the next forward (one call per micro-batch). */
  seedDropout(seed: number): void {
    let i = 0;
    for (const l of this.layers.values()) l.dropoutSeed = (seed * 1000003 + i++ * 7919) >>> 0;
  }

  /** Parameters under peft's in-memory names (base_model.model.…lora_A.default.weight). */
  namedParameters(): [string, Tensor][] {
    return this.base.namedParameters().map(([n, t]) => [PEFT_PREFIX + n, t]);
  }

  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, t]) => t.requiresGrad);
  }

  /** Counts like peft's get_nb_trainable_parameters (4-bit weights count their logical elements). */
  countParameters(): { trainable: number; all: number } {
    let trainable = 0;
    let all = 0;
    for (const [, t] of this.namedParameters()) {
      all += t.size;
      if (t.requiresGrad) trainable += t.size;
    }
    for (const slot of this.base.linearSlots()) {
      const l = slot.get();
      const base = l instanceof LoraLinear ? l.base : l;
      const logical = (base as LinearLike & { logicalParameters?: number }).logicalParameters;
      if (logical !== undefined) all += logical;
    }
    return { trainable, all };
  }

  /**
   * Prints peft's line: `trainable params: 1,081,344 || all params: 495,114,112 || trainable%: 0.2184`.
   */
  printTrainableParameters(log: (s: string) => void = console.log): string {
    const { trainable, all } = this.countParameters();
    const s = `trainable params: ${trainable.toLocaleString('en-US')} || all params: ${all.toLocaleString('en-US')} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
    log(s);
    return s;
  }

  /** Turns the adapters off (peft's disable_adapter context) while fn runs. */
  withoutAdapters<T>(fn: () => T): T {
    for (const l of this.layers.values()) l.enabled = false;
    try {
      return fn();
    } finally {
      for (const l of this.layers.values()) l.enabled = true;
    }
  }

  /** Removes the LoRA layers, putting the base layers back, and frees the adapters. */
  unload(): CausalLM {
    for (const slot of this.base.linearSlots()) {
      const l = slot.get();
      if (l instanceof LoraLinear) {
        slot.set(l.base);
        l.releaseAdapter();
      }
    }
    this.layers.clear();
    return this.base;
  }

  release(): void {
    this.base.release();
    this.layers.clear();
  }
}

/**
 * Wraps the model's target modules in LoRA layers and freezes everything else.
 *
 * @example
 * ```ts
 * const peft = getPeftModel(model, { r: 64, loraAlpha: 32, loraDropout: 0.1, targetModules: ['q_proj', 'k_proj', 'v_proj'] });
 * peft.printTrainableParameters();
 * ```
 */
export function getPeftModel(model: CausalLM, config: Partial<LoraConfig> | Record<string, unknown>, o: GetPeftModelOptions = {}): PeftModel {
  const cfg0 = validateLoraConfig(config, { purpose: 'train' });
  const cfg: LoraConfig = cfg0.targetModules === null ? { ...cfg0, targetModules: defaultTargetModules(model.config.modelType) } : cfg0;
  if (cfg.taskType !== null && cfg.taskType !== 'CAUSAL_LM') {
    throw new ConfigError('taskType', "'CAUSAL_LM' (the models here are causal LMs)", cfg.taskType, 'LoraConfig');
  }
  const peft = new PeftModel(model, cfg);
  for (const [, t] of model.namedParameters()) t.requiresGrad = false;
  let k = 0;
  for (const slot of model.linearSlots()) {
    if (!matchesTargetModule(slot.name, cfg, { isLinear: true })) continue;
    const { r, alpha, scaling } = moduleLoraParams(slot.name, cfg);
    const layer = new LoraLinear(slot.get(), {
      r,
      alpha,
      scaling,
      dropout: cfg.loraDropout,
      init: cfg.initLoraWeights,
      seed: (o.seed ?? 0) * 100003 + k++,
    });
    slot.set(layer);
    peft.layers.set(slot.name, layer);
  }
  if (peft.layers.size === 0) {
    throw new ConfigError(
      'targetModules',
      `names that match this model's projections (${model.linearSlots().slice(0, 7).map((s) => s.proj).join(', ')})`,
      cfg.targetModules,
      'LoraConfig',
    );
  }
  // bias='all' trains every bias; 'lora_only' the biases of adapted layers.
  if (cfg.bias !== 'none') {
    for (const slot of model.linearSlots()) {
      const adapted = peft.layers.has(slot.name);
      if (cfg.bias === 'lora_only' && !adapted) continue;
      for (const [n, t] of slot.get().namedParameters()) if (n.endsWith('bias') && !n.startsWith('lora_')) t.requiresGrad = true;
    }
  }
  for (const m of cfg.modulesToSave ?? []) {
    const hits = model.namedParameters().filter(([n]) => n === `${m}.weight` || n.endsWith(`.${m}.weight`) || n === `model.${m}.weight`);
    if (hits.length === 0) throw new ConfigError('modulesToSave', 'module names of this model (e.g. lm_head, embed_tokens)', m, 'LoraConfig');
    for (const [, t] of hits) t.requiresGrad = true;
  }
  return peft;
}
