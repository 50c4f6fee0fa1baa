/**
 * Stops a run whose loss or gradients turn NaN or Inf, at the step where it happens, before any
 * non-finite value reaches a checkpoint or the adapter.
 *
 * Without loss scaling a non-finite loss or gradient norm means the run diverged: stop. With fp16
 * loss scaling (torch.amp.GradScaler) an overflowing step is expected: the scaler skips the
 * update and lowers the scale. A long run of skipped steps is not: the scale has collapsed, or the
 * loss itself is NaN, so the guard stops after `maxConsecutiveSkips` of them (GradScaler halves the
 * scale per skip, so 16 skips take its default 2^16 down to 1).
 *
 * @example
 * ```ts
 * const guard = new NonFiniteGuard({ lossScaling: args.fp16 });
 * if (guard.check(step, loss, gradNorm) === 'update') opt.step(...);
 * ```
 */
import { QError } from '@q/core';

/** The training produced NaN or Inf: the run stops (the CLI exits non-zero). */
export class NonFiniteError extends QError {
  constructor(
    readonly step: number,
    readonly what: string,
    detail: string,
  ) {
    super('E_NONFINITE', `training diverged at step ${step}: ${what}. ${detail}`);
  }
}

export interface NonFiniteGuardOptions {
  /** Loss scaling is on (fp16): single skipped steps are normal. Default false. */
  lossScaling?: boolean;
  /** With loss scaling: how many skipped steps in a row stop the run. Default 16. */
  maxConsecutiveSkips?: number;
  /** Added to the error: where the last good state is (e.g. the last checkpoint). */
  lastGood?: () => string | null;
}

export class NonFiniteGuard {
  private skipsInARow = 0;
  readonly maxConsecutiveSkips: number;

  constructor(private readonly o: NonFiniteGuardOptions = {}) {
    this.maxConsecutiveSkips = o.maxConsecutiveSkips ?? 16;
  }

  /**
   * Call once per optimizer step (1-based `step`) with the step's loss and gradient norm.
   * Returns 'update' to apply the update, 'skip' (loss scaling only) to skip it, or throws
   * {@link NonFiniteError}.
   */
  check(step: number, loss: number, gradNorm: number): 'update' | 'skip' {
    const lossOk = Number.isFinite(loss);
    const gradOk = Number.isFinite(gradNorm);
    if (lossOk && gradOk) {
      this.skipsInARow = 0;
      return 'update';
    }
    const what = !lossOk ? `the loss is ${loss}` : `the gradient norm is ${gradNorm}`;
    if (!this.o.lossScaling) this.fail(step, what);
    this.skipsInARow++;
    if (this.skipsInARow >= this.maxConsecutiveSkips) {
      this.fail(step, `${what} for ${this.skipsInARow} steps in a row, so every update since step ${step - this.skipsInARow + 1} was skipped (loss scaling cannot recover from this)`);
    }
    return 'skip';
  }

  /**
   * Checks weights read back from the GPU (before a save, and at the end): an update can overflow
   * them even when the loss and gradients of its step were finite.
   */
  checkWeights(step: number, weights: Iterable<[string, ArrayLike<number>]>): void {
    for (const [name, d] of weights) {
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) this.fail(step, `the update of step ${step} made "${name}" ${d[i]} (at index ${i})`);
      }
    }
  }

  private fail(step: number, what: string): never {
    const good = this.o.lastGood?.() ?? null;
    throw new NonFiniteError(
      step,
      what,
      `Nothing from this step on was saved${good ? `; the last good checkpoint is ${good}` : ''}. Lower learning_rate, set max_grad_norm, or check the data.`,
    );
  }
}
