/**
 * Linear layers as nn.Linear stores them: weight [out, in], optional bias [out]; y = x·Wᵀ + b.
 * Anything with this interface can sit in a projection slot: a dense layer, an NF4 layer, or a
 * LoRA wrapper around either.
 */
import { add, matmul, type Tensor } from '@q/core';

export interface LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x: [..., in] -> [..., out] */
  forward(x: Tensor): Tensor;
  /** Parameters by their name relative to the layer (`weight`, `bias`, `lora_A.default.weight`, ...). */
  namedParameters(): [string, Tensor][];
  /** Frees every GPU buffer the layer owns. */
  release(): void;
}

export class Linear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(
    public weight: Tensor,
    public bias: Tensor | null = null,
  ) {
    [this.outFeatures, this.inFeatures] = weight.shape as [number, number];
  }
  forward(x: Tensor): Tensor {
    const y = matmul(x, this.weight, { transB: true });
    return this.bias ? add(y, this.bias) : y;
  }
  namedParameters(): [string, Tensor][] {
    return this.bias ? [['weight', this.weight], ['bias', this.bias]] : [['weight', this.weight]];
  }
  release(): void {
    this.weight.release();
    this.bias?.release();
  }
}
