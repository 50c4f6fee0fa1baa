/**
 * transformers' TrainerCallback, the part a host application needs: a hook after every optimizer
 * step that can end training (control.should_training_stop) or ask for a checkpoint
 * (control.should_save). A returned promise is awaited, so a UI can hold training paused.
 */
import type { TrainerState } from './checkpoint';

export interface TrainerControl {
  /** End training after this step; the end-of-training evaluation and save still run. */
  shouldTrainingStop?: boolean;
  /** Save a checkpoint now, whatever saveStrategy says. */
  shouldSave?: boolean;
}

/**
 * @example
 * ```ts
 * let stop = false;
 * const trainer = new SFTTrainer({ ..., callbacks: [{ onStepEnd: () => ({ shouldTrainingStop: stop }) }] });
 * ```
 */
export interface TrainerCallback {
  onStepEnd?(state: Readonly<TrainerState>): void | TrainerControl | Promise<void | TrainerControl>;
}
