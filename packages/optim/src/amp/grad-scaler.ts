/**
 * Dynamic loss scaling with torch.amp.GradScaler's semantics, for fp16 training.
 *
 * The loss is multiplied by `scale` before backward, so small f16 gradients do not flush to zero;
 * the optimizer step divides by it again (folded into AdamW's gradient scale, see {@link invScale}).
 * When a gradient overflowed (inf/NaN), the step is skipped and the scale halves; after
 * `growthInterval` clean steps in a row it doubles. The scale is an f32 value, as torch keeps it
 * in a float32 tensor, and `update` follows `_amp_update_scale_` (aten/src/ATen/native/cuda/AmpKernels.cu):
 *
 *   if found_inf: scale *= backoff; tracker = 0
 *   else: tracker += 1; if tracker == interval: (scale *= growth if finite); tracker = 0
 *
 * Host-side only: the trainer learns whether gradients are finite from the gradient norm it reads
 * back each step anyway, so the scale never needs to live on the GPU.
 */
import { ValueError } from '@q/core';

export interface GradScalerOptions {
  /** Initial scale. Default 2^16 (torch's init_scale). */
  initScale?: number;
  /** Factor after `growthInterval` clean steps. Default 2. */
  growthFactor?: number;
  /** Factor after a step with inf/NaN gradients. Default 0.5. */
  backoffFactor?: number;
  /** Clean steps between growths. Default 2000. */
  growthInterval?: number;
  /** A disabled scaler scales by 1 and never skips (torch: enabled=False). Default true. */
  enabled?: boolean;
}

/** torch.amp.GradScaler.state_dict(), key for key (empty when disabled, as in torch). */
export interface GradScalerState {
  scale?: number;
  growth_factor?: number;
  backoff_factor?: number;
  growth_interval?: number;
  _growth_tracker?: number;
}

export class GradScaler {
  readonly enabled: boolean;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  private _scale: number;
  private tracker = 0;

  constructor(o: GradScalerOptions = {}) {
    this.enabled = o.enabled ?? true;
    this._scale = Math.fround(o.initScale ?? 2 ** 16);
    this.growthFactor = o.growthFactor ?? 2;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.growthInterval = o.growthInterval ?? 2000;
    // torch's constructor asserts the same three conditions.
    if (!(this.growthFactor > 1)) throw new ValueError(`GradScaler: growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor < 1 && this.backoffFactor > 0)) throw new ValueError(`GradScaler: backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!Number.isInteger(this.growthInterval) || this.growthInterval <= 0) {
      throw new ValueError(`GradScaler: growthInterval must be a positive integer, got ${this.growthInterval}`);
    }
    if (!(this._scale > 0) || !Number.isFinite(this._scale)) throw new ValueError(`GradScaler: initScale must be a finite number > 0, got ${o.initScale}`);
  }

  /** The current scale (1 when disabled): multiply the loss by it before backward. */
  getScale(): number {
    return this.enabled ? this._scale : 1;
  }

  /** Consecutive clean steps since the last growth or backoff. */
  get growthTracker(): number {
    return this.tracker;
  }

  /**
   * 1/scale as torch unscales: `scale.double().reciprocal().float()`. Pass it as the gradient
   * scale of the norm and of the optimizer step instead of rewriting every gradient.
   */
  invScale(): number {
    return Math.fround(1 / this.getScale());
  }

  /**
   * After a step: `foundInf` is whether any unscaled gradient was inf or NaN (the step was then
   * skipped). Returns true when the optimizer step should have run (no inf/NaN).
   */
  update(foundInf: boolean): boolean {
    if (!this.enabled) return true;
    if (foundInf) {
      this._scale = Math.fround(this._scale * this.backoffFactor);
      this.tracker = 0;
      return false;
    }
    const successful = this.tracker + 1;
    if (successful === this.growthInterval) {
      const next = Math.fround(this._scale * this.growthFactor);
      if (Number.isFinite(next)) this._scale = next;
      this.tracker = 0;
    } else this.tracker = successful;
    return true;
  }

  stateDict(): GradScalerState {
    if (!this.enabled) return {};
    return {
      scale: this._scale,
      growth_factor: this.growthFactor,
      backoff_factor: this.backoffFactor,
      growth_interval: this.growthInterval,
      _growth_tracker: this.tracker,
    };
  }

  /** Restores the scale, the tracker and the factors, as torch's load_state_dict does. */
  loadStateDict(s: GradScalerState): void {
    if (!this.enabled) return;
    if (s.scale === undefined) throw new ValueError('GradScaler.loadStateDict: the state has no scale (saved by a disabled scaler?)');
    if (!(s.scale > 0) || !Number.isFinite(s.scale)) throw new ValueError(`GradScaler.loadStateDict: scale must be a finite number > 0, got ${s.scale}`);
    this._scale = Math.fround(s.scale);
    this.tracker = s._growth_tracker ?? 0;
    this.growthFactor = s.growth_factor ?? this.growthFactor;
    this.backoffFactor = s.backoff_factor ?? this.backoffFactor;
    this.growthInterval = s.growth_interval ?? this.growthInterval;
  }
}
