/**
 * What `fp16` and `bf16` do on WebGPU, decided once per trainer.
 *
 * - fp16 (with the adapter's shader-f16): activations, matmuls, attention and the MLP run in f16
 *   with f32 accumulation inside every kernel; the residual stream, norm statistics, the loss, the
 *   LoRA weights, their gradients and AdamW's moments stay f32 (peft + torch.autocast after
 *   prepare_model_for_kbit_training). The loss is scaled by a {@link GradScaler} (torch.amp's
 *   semantics) so small f16 gradients survive; a step whose gradients overflowed is skipped and
 *   the learning-rate schedule does not advance (transformers' Trainer: optimizer_step_was_skipped).
 * - bf16: WebGPU has no bfloat16 arithmetic, and bf16 storage would only be emulated (u32 packing
 *   with f32 math), which saves no time here; so training computes in f32 — bf16's range, more
 *   than its precision. No loss scaling, as with bf16 in torch.
 * - fp16 without shader-f16 (some CPU and older adapters): f32, with a warning.
 */
import { GradScaler } from '@q/optim';
import type { CausalLM } from '@q/model';

export interface Precision {
  /** What the forward computes in. */
  compute: 'f32' | 'f16';
  /** Present with fp16 only. */
  scaler: GradScaler | null;
  /** One line saying what the flags did (printed only when asked: SFTTrainer's `precision`). */
  description: string;
}

export function resolvePrecision(a: { fp16: boolean; bf16: boolean }, model: CausalLM, warn: (m: string) => void): Precision {
  if (a.fp16) {
    if (!model.dev.info.f16) {
      warn(`fp16=true, but ${model.dev.info.description || 'this adapter'} has no shader-f16: training runs in f32`);
      return { compute: 'f32', scaler: null, description: 'fp16 requested; the adapter lacks shader-f16, so f32 compute, no loss scaling' };
    }
    model.setComputeDtype('f16');
    return {
      compute: 'f16',
      scaler: new GradScaler(),
      description: 'fp16: f16 activations and matmuls with f32 accumulation; f32 residual stream, loss, LoRA weights, gradients and AdamW state; dynamic loss scaling (GradScaler, 2^16)',
    };
  }
  model.setComputeDtype('f32');
  if (a.bf16) {
    return { compute: 'f32', scaler: null, description: 'bf16: WebGPU has no bfloat16 arithmetic, so compute runs in f32 (bf16 range and more); no loss scaling' };
  }
  return { compute: 'f32', scaler: null, description: 'f32 compute' };
}
