/**
 * peft's merge_adapter / unmerge_adapter on dense bases: the delta is added to the base weight in
 * place and the adapter is switched off, then subtracted again. Reversible up to f32 rounding.
 */
import { matmul, noGrad, scale, tidy, ValueError } from '@q/core';
import { addInPlace } from '@q/core/kernel';
import { Linear } from '@q/model';
import { LoraLinear, type PeftModel } from '@q/lora';

const merged = new WeakSet<LoraLinear>();

function apply(l: LoraLinear, sign: 1 | -1): void {
  if (!(l.base instanceof Linear)) throw new ValueError('merge in place needs a dense base; use mergeAndUnload for 4-bit bases');
  const w = (l.base as Linear).weight;
  noGrad(() => tidy(() => addInPlace(w, scale(matmul(l.loraB, l.loraA), sign * l.scaling))));
}

/** Folds the adapters into the base weights and disables them (generation without LoRA cost). */
export function mergeAdapter(peft: PeftModel): void {
  for (const l of peft.layers.values()) {
    if (merged.has(l)) continue;
    apply(l, 1);
    l.enabled = false;
    merged.add(l);
  }
}

/** Undoes {@link mergeAdapter}: subtracts the deltas and re-enables the adapters. */
export function unmergeAdapter(peft: PeftModel): void {
  for (const l of peft.layers.values()) {
    if (!merged.has(l)) continue;
    apply(l, -1);
    l.enabled = true;
    merged.delete(l);
  }
}
