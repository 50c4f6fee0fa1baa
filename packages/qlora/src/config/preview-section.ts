/** The `preview` section: answers to held-out questions before and after training. */
import { checkInteger, withDefaults } from '@q/core';

export interface PreviewSection {
  /** Held-out chat questions to answer before and after training (greedy); 0 = none. Default 3. */
  questions: number;
  /** Tokens per answer. Default 24. */
  maxNewTokens: number;
}

export const PREVIEW_SECTION_DEFAULTS: Readonly<PreviewSection> = Object.freeze({ questions: 3, maxNewTokens: 24 });

/**
 * @example
 * ```ts
 * validatePreviewSection({ questions: 0 }) // { questions: 0, maxNewTokens: 24 }
 * ```
 */
export function validatePreviewSection(input: unknown): PreviewSection {
  const p = withDefaults(input ?? {}, { ...PREVIEW_SECTION_DEFAULTS }, 'preview');
  checkInteger(p.questions, 'questions', { min: 0 }, 'preview');
  checkInteger(p.maxNewTokens, 'maxNewTokens', { min: 1 }, 'preview');
  return p;
}
