/**
 * How much memory a model needs, worked out from its config before anything is loaded, so that
 * an absurd config (num_hidden_layers: 1e9) is refused with the numbers instead of ending in V8's
 * out-of-memory abort.
 */
import { QError } from '@q/core';
import type { ModelConfig } from './model-config';

export interface MemoryPlan {
  /** Parameters of the model. */
  parameters: number;
  /** GPU bytes of the weights as loaded (4-bit projections: half a byte + absmax per value). */
  gpuBytes: number;
  /** The largest single tensor, in f32 bytes (it passes through host memory and one GPU buffer). */
  largestTensorBytes: number;
}

/** The model did not fit: the message gives what it needs and what there is. */
export class MemoryPlanError extends QError {
  constructor(message: string) {
    super('E_MEMORY', message);
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

/**
 * @example
 * ```ts
 * planModelMemory(cfg, { quantized: true }).gpuBytes
 * ```
 */
export function planModelMemory(cfg: ModelConfig, o: { quantized?: boolean } = {}): MemoryPlan {
  const { hiddenSize: D, intermediateSize: F, numAttentionHeads: Hq, numKeyValueHeads: Hkv, headDim: Dh, vocabSize: V } = cfg;
  // Per layer: q, k, v, o, gate, up, down (+ biases, 2 norms). Plain float arithmetic: no loop
  // over layers, so a billion layers cost nothing to plan.
  const proj = Hq * Dh * D * 2 + Hkv * Dh * D * 2 + 3 * F * D;
  const small = 2 * D + (cfg.qkvBias ? Hq * Dh + 2 * Hkv * Dh : 0) + (cfg.oBias ? D : 0) + (cfg.mlpBias ? 2 * F + D : 0);
  const embed = V * D * (cfg.tieWordEmbeddings ? 1 : 2);
  const parameters = cfg.numHiddenLayers * (proj + small) + embed + D;
  const projBytes = o.quantized ? proj * (0.5 + 4 / 64) : proj * 4;
  const gpuBytes = cfg.numHiddenLayers * (projBytes + small * 4) + (embed + D) * 4;
  const largestTensorBytes = 4 * Math.max(V * D, F * D, Hq * Dh * D);
  return { parameters, gpuBytes, largestTensorBytes };
}

/**
 * Throws {@link MemoryPlanError} when the model cannot fit: its weights exceed `gpuBytes` (or
 * host memory), or one tensor exceeds `maxBufferBytes`.
 */
export function checkMemoryPlan(cfg: ModelConfig, o: { quantized?: boolean; gpuBytes?: number; hostBytes: number; maxBufferBytes?: number; source?: string }): MemoryPlan {
  const plan = planModelMemory(cfg, o);
  const src = o.source ? `${o.source}: ` : '';
  const what = `${cfg.numHiddenLayers} layers, hidden_size ${cfg.hiddenSize}, intermediate_size ${cfg.intermediateSize}, vocab_size ${cfg.vocabSize}: ${plan.parameters.toExponential(3)} parameters`;
  const limit = Math.min(o.gpuBytes ?? Infinity, o.hostBytes);
  if (!(plan.gpuBytes <= limit)) {
    throw new MemoryPlanError(
      `${src}the model needs ${formatBytes(plan.gpuBytes)} for its weights${o.quantized ? ' in 4-bit' : ''} (${what}), but ${o.gpuBytes !== undefined && o.gpuBytes < o.hostBytes ? `the GPU has ${formatBytes(o.gpuBytes)}` : `this machine has ${formatBytes(o.hostBytes)} of memory`}; check config.json`,
    );
  }
  if (o.maxBufferBytes !== undefined && plan.largestTensorBytes > o.maxBufferBytes) {
    throw new MemoryPlanError(`${src}the largest tensor needs ${formatBytes(plan.largestTensorBytes)}, but the GPU's largest buffer is ${formatBytes(o.maxBufferBytes)} (${what})`);
  }
  return plan;
}
