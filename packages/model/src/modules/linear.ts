/**
 * Linear layers as nn.Linear stores them: weight [out, in], optional bias [out]; y = x·Wᵀ + b.
 * Anything with this interface can sit in a projection slot: a dense layer, an NF4 layer, or a
 * LoRA wrapper around either.
 */
import { add, cast, isGradEnabled, matmul, type Tensor } from '@q/core';
import { matmulMixed } from '@q/core/kernel';

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
    // Without gradients an f16 weight is read as it is by an f32 activation (no cast of the whole
    // weight per call): the product takes the f16 tile, tensor cores where the device has them.
    if (this.weight.dtype === 'f16' && x.dtype === 'f32' && !isGradEnabled()) {
      const K = this.inFeatures;
      const y = matmulMixed(x.reshape([-1, K]), this.weight, { transA: false, transB: true }).reshape([...x.shape.slice(0, -1), this.outFeatures]);
      return this.bias ? add(y, cast(this.bias, x.dtype)) : y;
    }
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
