/**
 * A projection whose frozen weight is 4-bit (NF4/FP4, bitsandbytes' layout) and is read by the
 * fused kernel directly: y = x·Wᵀ + b without a dense W. It is what QLoRA's LoRA layers wrap.
 */
import { add, cast, keep, tensor, type QDevice, type Tensor } from '@q/core';
import {
  Nf4Weight, nf4Linear, quantizeOnGpu, validateBitsAndBytesConfig, dequantizeOnGpu, fromBnbTensors, toBnbTensors,
  type BitsAndBytesConfig, type RawTensor,
} from '@q/nf4';
import type { LinearLike } from './linear';
import type { LinearFactory } from './load';

export class QuantLinear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(
    public weight4: Nf4Weight,
    public bias: Tensor | null = null,
  ) {
    [this.outFeatures, this.inFeatures] = weight4.shape as [number, number];
  }
  forward(x: Tensor): Tensor {
    const y = nf4Linear(x, this.weight4);
    return this.bias ? add(y, cast(this.bias, y.dtype)) : y;
  }
  /** Dense parameters only; the 4-bit weight is counted by {@link logicalParameters}. */
  namedParameters(): [string, Tensor][] {
    return this.bias ? [['bias', this.bias]] : [];
  }
  /** Elements of the 4-bit weight, as peft counts them. */
  get logicalParameters(): number {
    return this.inFeatures * this.outFeatures;
  }
  /** The weight dequantized to f32 on the GPU (merging, saving). */
  dequantize(): Tensor {
    return dequantizeOnGpu(this.weight4, 'f32');
  }
  /** bitsandbytes' tensors for this weight (weight, absmax, quant_map, quant_state...). */
  async bnbTensors(prefix: string): Promise<Record<string, RawTensor>> {
    return toBnbTensors(prefix, await this.weight4.toQuantized());
  }
  release(): void {
    this.weight4.release();
    this.bias?.release();
  }
}

/** A LinearFactory that quantizes each projection on the GPU as it is loaded. */
export function quantizingLinear(cfgIn: Record<string, unknown> | BitsAndBytesConfig): LinearFactory {
  const cfg = validateBitsAndBytesConfig(cfgIn);
  const skip = cfg.llmInt8SkipModules ?? [];
  return async (path, weight, shape, bias, dev: QDevice) => {
    const dense = keep(tensor(await weight(), shape, { dev }));
    const b = bias ? keep(tensor(bias, [shape[0]], { dev })) : null;
    if (skip.some((m) => path === m || path.endsWith(`.${m}`))) {
      const { Linear } = await import('./linear');
      return new Linear(dense, b);
    }
    try {
      const w = await quantizeOnGpu(dense, { blocksize: cfg.blocksize, quantType: cfg.bnb4bitQuantType, doubleQuant: cfg.bnb4bitUseDoubleQuant });
      return new QuantLinear(w, b);
    } finally {
      dense.release();
    }
  };
}

/** Loads one projection of a pre-quantized ('-bnb-4bit') checkpoint. */
export function bnbLinear(readRaw: (name: string) => Promise<RawTensor | null>, file: string): LinearFactory {
  return async (path, _weight, shape, bias, dev) => {
    const names = ['', '.absmax', '.quant_map', '.nested_absmax', '.nested_quant_map', '.quant_state.bitsandbytes__nf4', '.quant_state.bitsandbytes__fp4'];
    const raw: Record<string, RawTensor> = {};
    for (const n of names) {
      const r = await readRaw(`${path}.weight${n}`);
      if (r) raw[`${path}.weight${n}`] = r;
    }
    const q = fromBnbTensors(path, raw, { file });
    const qs = q.shape.join();
    if (qs !== shape.join()) {
      const { ShapeError } = await import('@q/core');
      throw new ShapeError(`${file}: 4-bit "${path}.weight" has shape [${qs}], config.json implies [${shape}]`);
    }
    return new QuantLinear(Nf4Weight.upload(q, dev), bias ? keep(tensor(bias, [shape[0]], { dev })) : null);
  };
}
