/**
 * Linear layers as nn.Linear stores them: weight [out, in], optional bias [out]; y = x·Wᵀ + b.
 * Anything with this interface can sit in a projection slot: a dense layer, an NF4 layer, or a
 * LoRA wrapper around either.
 */
import { add, cast, matmul, type Tensor } from '@q/core';

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
  /** Computes in x's dtype: an f32 weight meets f16 activations cast to f16, as under autocast. */
  forward(x: Tensor): Tensor {
    const y = matmul(x, cast(this.weight, x.dtype), { transB: true });
    return this.bias ? add(y, cast(this.bias, x.dtype)) : y;
  }
  namedParameters(): [string, Tensor][] {
    return this.bias ? [['weight', this.weight], ['bias', this.bias]] : [['weight', this.weight]];
  }
  release(): void {
    this.weight.release();
    this.bias?.release();
  }
}
