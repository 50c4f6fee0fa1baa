/**
 * The guard every model-folder writer runs before it writes a byte: the tensors about to be saved
 * must be exactly the architecture's (checkpointLayout). A merged folder that silently lacks its
 * o/gate/up/down projections loads in transformers with those weights initialised at random, so an
 * incomplete set is refused here rather than discovered by whoever ships the folder.
 */
import { FormatError } from '@q/core';
import type { ModelConfig } from '../config';
import { checkpointLayout } from './random-weights';

export interface TensorSetOptions {
  /**
   * Names whose stored shape differs from the architecture's on purpose (bitsandbytes' packed
   * 4-bit weights): only their presence is checked.
   */
  packed?: (name: string) => boolean;
  /** Names the format adds beside the architecture's (quant_state, absmax...). */
  extra?: (name: string) => boolean;
}

/**
 * Throws a FormatError naming `dir` and the first missing, unexpected or misshapen tensors when
 * `tensors` is not the full tensor set of `cfg`'s architecture.
 *
 * @example
 * ```ts
 * checkTensorSet(model.config, model.namedParameters().map(([n, t]) => [n, [...t.shape]]), 'out/merged');
 * ```
 */
export function checkTensorSet(cfg: ModelConfig, tensors: [name: string, shape: readonly number[]][], dir: string, o: TensorSetOptions = {}): void {
  const have = new Map(tensors.map(([n, s]) => [n, s]));
  const layout = checkpointLayout(cfg);
  const want = new Set(layout.map(([n]) => n));
  const missing = layout.filter(([n]) => !have.has(n)).map(([n]) => n);
  const unexpected = [...have.keys()].filter((n) => !want.has(n) && !o.extra?.(n));
  const misshapen = layout.filter(([n, s]) => have.has(n) && !o.packed?.(n) && have.get(n)!.join() !== s.join()).map(([n, s]) => `${n} is [${have.get(n)}], the architecture needs [${s}]`);
  const list = (xs: string[]) => `${xs.slice(0, 4).join(', ')}${xs.length > 4 ? ` and ${xs.length - 4} more` : ''}`;
  const problems: string[] = [];
  if (missing.length) problems.push(`${missing.length} of ${layout.length} tensors of the ${cfg.modelType} architecture are missing (${list(missing)})`);
  if (unexpected.length) problems.push(`${unexpected.length} tensors are not part of the architecture (${list(unexpected)})`);
  if (misshapen.length) problems.push(list(misshapen));
  if (problems.length) throw new FormatError(dir, `refusing to write an incomplete model folder: ${problems.join('; ')}`);
}
