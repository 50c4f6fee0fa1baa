/** The `merge` section: merge_and_unload after training, and where the merged model goes. */
import { checkBoolean, checkEnum, checkString, withDefaults } from '@q/core';

export type MergeSaveDtype = 'float16' | 'bfloat16' | 'float32';
export const MERGE_DTYPES: readonly MergeSaveDtype[] = ['float16', 'bfloat16', 'float32'];
/** What a 4-bit run's adapter is merged into. */
export type MergeBase = 'full-precision' | 'dequantized-4bit';
export const MERGE_BASES: readonly MergeBase[] = ['full-precision', 'dequantized-4bit'];

export interface MergeSection {
  /** Merge the adapter into the base after training. Default false (true for the built-in model). */
  enabled: boolean;
  /** Precision of the merged weights: never 4-bit, so the merge does not round the adapter away. Default 'float16'. */
  dtype: MergeSaveDtype;
  /** Folder of the merged model; null = `<output_dir>/merged`. Default null. */
  outputDir: string | null;
  /**
   * For a 4-bit run: 'full-precision' reloads the base from its folder without quantization and
   * merges the saved adapter into it, as the seed's step 6 (AutoPeftModelForCausalLM) does;
   * 'dequantized-4bit' merges into the NF4 weights the adapter was trained on, dequantized to
   * `dtype` (every layer, with or without LoRA). Default 'full-precision'.
   */
  base: MergeBase;
}

export const MERGE_SECTION_DEFAULTS: Readonly<MergeSection> = Object.freeze({ enabled: false, dtype: 'float16', outputDir: null, base: 'full-precision' });

const SOURCE = 'merge';

/**
 * `merge: true` is short for `{ enabled: true }`; giving the section as an object enables it
 * unless it says `enabled: false`.
 *
 * @example
 * ```ts
 * validateMergeSection({ dtype: 'bfloat16' }) // { enabled: true, dtype: 'bfloat16', outputDir: null, base: 'full-precision' }
 * ```
 */
export function validateMergeSection(input: unknown, defaultEnabled = false): MergeSection {
  if (input === undefined || input === null) return { ...MERGE_SECTION_DEFAULTS, enabled: defaultEnabled };
  const obj = typeof input === 'boolean' ? { enabled: input } : input;
  const m = withDefaults(obj, { ...MERGE_SECTION_DEFAULTS, enabled: true }, SOURCE, { aliases: { output_path: 'outputDir', out: 'outputDir' } });
  checkBoolean(m.enabled, 'enabled', SOURCE);
  checkEnum(m.dtype, 'dtype', MERGE_DTYPES, SOURCE);
  checkEnum(m.base, 'base', MERGE_BASES, SOURCE);
  if (m.outputDir !== null) checkString(m.outputDir, 'outputDir', SOURCE);
  return m;
}
