/** The `merge` section: merge_and_unload after training, and where the merged model goes. */
import { checkBoolean, checkEnum, checkString, withDefaults } from '@q/core';

export type MergeSaveDtype = 'float16' | 'bfloat16' | 'float32';
export const MERGE_DTYPES: readonly MergeSaveDtype[] = ['float16', 'bfloat16', 'float32'];

export interface MergeSection {
  /** Merge the adapter into the base after training. Default false (true for the built-in model). */
  enabled: boolean;
  /** Precision of the merged weights: never 4-bit, so the merge does not round the adapter away. Default 'float16'. */
  dtype: MergeSaveDtype;
  /** Folder of the merged model; null = `<output_dir>/merged`. Default null. */
  outputDir: string | null;
}

export const MERGE_SECTION_DEFAULTS: Readonly<MergeSection> = Object.freeze({ enabled: false, dtype: 'float16', outputDir: null });

const SOURCE = 'merge';

/**
 * `merge: true` is short for `{ enabled: true }`; giving the section as an object enables it
 * unless it says `enabled: false`.
 *
 * @example
 * ```ts
 * validateMergeSection({ dtype: 'bfloat16' }) // { enabled: true, dtype: 'bfloat16', outputDir: null }
 * ```
 */
export function validateMergeSection(input: unknown, defaultEnabled = false): MergeSection {
  if (input === undefined || input === null) return { ...MERGE_SECTION_DEFAULTS, enabled: defaultEnabled };
  const obj = typeof input === 'boolean' ? { enabled: input } : input;
  const m = withDefaults(obj, { ...MERGE_SECTION_DEFAULTS, enabled: true }, SOURCE, { aliases: { output_path: 'outputDir', out: 'outputDir' } });
  checkBoolean(m.enabled, 'enabled', SOURCE);
  checkEnum(m.dtype, 'dtype', MERGE_DTYPES, SOURCE);
  if (m.outputDir !== null) checkString(m.outputDir, 'outputDir', SOURCE);
  return m;
}
