/**
 * A weighted merge of several adapters into one base: Σ wᵢ · scalingᵢ · Bᵢ·Aᵢ folded in at once
 * (what peft's add_weighted_adapter with combination_type 'cat' computes), then unloaded.
 */
import type { CausalLM } from '@q/model';
import { loadAdapter } from '@q/lora';
import { detachAdapters, foldDeltas, releaseDeltas, type LoraDelta, type MergeOptions, type MergeReport } from './merge-lora';

export interface WeightedAdapter {
  /** A PEFT adapter folder. */
  dir: string;
  weight: number;
}

/**
 * @example
 * ```ts
 * const { report } = await mergeWeightedAdapters(base, [{ dir: 'a', weight: 0.7 }, { dir: 'b', weight: 0.3 }]);
 * ```
 */
export async function mergeWeightedAdapters(model: CausalLM, adapters: WeightedAdapter[], o: MergeOptions = {}): Promise<{ model: CausalLM; report: MergeReport }> {
  const all = new Map<string, LoraDelta[]>();
  try {
    for (const ad of adapters) {
      const peft = await loadAdapter(model, ad.dir);
      for (const [name, list] of detachAdapters(peft, ad.weight)) all.set(name, [...(all.get(name) ?? []), ...list]);
    }
    return { model, report: await foldDeltas(model, all, o) };
  } finally {
    releaseDeltas(all);
  }
}
