/**
 * A LoRA layer wraps its base layer, as peft's lora.Linear does:
 * y = base(x) + B(A(dropout(x))) · scaling, with A: [r, in], B: [out, r].
 * Initialisation follows peft: A ~ kaiming_uniform(a=√5) = U(−1/√in, 1/√in), B = 0, so the
 * adapted model starts equal to the base ('gaussian': A ~ N(0, 1/r)).
 */
// x: [..., in] -> [..., out]
import { add, dropout, keep, matmul, scale, tensor, zeros, Rng, type Tensor } from '@q/core';
import type { LinearLike } from '@q/model';
import type { InitLoraWeights } from '../config';

export interface LoraLayerOptions {
  r: number;
  alpha: number;
  scaling: number;
  dropout: number;
  init: InitLoraWeights;
  seed: number;
}

export class LoraLinear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  loraA: Tensor;
  loraB: Tensor;
  readonly r: number;
  scaling: number;
  readonly dropoutP: number;
  /** peft's disable_adapters / merged state: when false the layer is its base. */
  enabled = true;
  /** Dropout is active only while training (nn.Dropout semantics). */
  training = true;
  /** Seed of the next dropout mask; the trainer advances it each micro-batch. */
  dropoutSeed = 0;

  constructor(
    readonly base: LinearLike,
    o: LoraLayerOptions,
  ) {
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.r = o.r;
    this.scaling = o.scaling;
    this.dropoutP = o.dropout;
    const rng = new Rng(o.seed);
    const a = new Float32Array(o.r * this.inFeatures);
    if (o.init === 'gaussian') for (let i = 0; i < a.length; i++) a[i] = rng.normal() / o.r;
    else {
      // true and false both keep nn.Linear's kaiming-uniform A; they differ in B.
      const bound = 1 / Math.sqrt(this.inFeatures);
      for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
    }
    this.loraA = keep(tensor(a, [o.r, this.inFeatures], { requiresGrad: true, name: 'lora_A' }));
    // init_lora_weights=false keeps nn.Linear's init for B too (U(±1/√r)), so the adapter is not a
    // no-op (peft's test mode).
    if (o.init === false) {
      const b = new Float32Array(this.outFeatures * o.r);
      for (let i = 0; i < b.length; i++) b[i] = (2 * rng.next() - 1) / Math.sqrt(o.r);
      this.loraB = keep(tensor(b, [this.outFeatures, o.r], { requiresGrad: true, name: 'lora_B' }));
    } else this.loraB = keep(zeros([this.outFeatures, o.r], { requiresGrad: true, name: 'lora_B' }));
  }

  forward(x: Tensor): Tensor {
    const y = this.base.forward(x);
    if (!this.enabled) return y;
    const xd = this.training && this.dropoutP > 0 ? dropout(x, this.dropoutP, this.dropoutSeed) : x;
    // A and B stay f32 (their gradients and AdamW state too); under fp16 the products read them as
    // f32 (tensor-core tiles round them to f16, as autocast's cast would, without a cast kernel and
    // an f16 copy per use); their gradients come back f32.
    const delta = matmul(matmul(xd, this.loraA, { transB: true }), this.loraB, { transB: true });
    return add(y, scale(delta, this.scaling));
  }

  namedParameters(): [string, Tensor][] {
    return [
      ...this.base.namedParameters().map(([n, t]) => [`base_layer.${n}`, t] as [string, Tensor]),
      ['lora_A.default.weight', this.loraA],
      ['lora_B.default.weight', this.loraB],
    ];
  }

  /** Replaces A and B (loading an adapter); shapes are checked by the caller. */
  setWeights(a: Tensor, b: Tensor): void {
    this.loraA.release();
    this.loraB.release();
    this.loraA = a;
    this.loraB = b;
  }

  /** Frees the adapter's tensors only; the base layer stays with whoever owns it. */
  releaseAdapter(): void {
    this.loraA.grad?.release();
    this.loraB.grad?.release();
    this.loraA.release();
    this.loraB.release();
  }

  release(): void {
    this.releaseAdapter();
    this.base.release();
  }
}
