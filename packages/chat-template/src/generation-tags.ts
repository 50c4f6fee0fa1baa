import { GENERATION_CLOSE, GENERATION_OPEN } from './markers';
import type { CharSpan } from './types';

// {% generation %} / {% endgeneration %} with optional whitespace control, plus the spaces/tabs
// before it and the newline after it (which lstrip_blocks / trim_blocks may remove).
const TAG = /([ \t]*)\{%(-?)\s*(end)?generation\s*(-?)%\}(\n?)/g;

/** True when the template marks assistant output with `{% generation %}` blocks. */
export function hasGenerationTags(template: string): boolean {
  return /\{%-?\s*generation\s*-?%\}/.test(template);
}

/**
 * Rewrites `{% generation %}` / `{% endgeneration %}` into expressions that print a marker
 * character, so the render itself tells where each block's output starts and ends (what
 * transformers' AssistantTracker extension records). @huggingface/jinja would otherwise drop the
 * tags. A block tag's whitespace rules must survive the rewrite, because an expression tag is not
 * subject to them: lstrip_blocks removes the spaces before a tag that starts its line, trim_blocks
 * the newline after it; `-` stripping carries over as `{{-` / `-}}`.
 */
export function rewriteGenerationTags(template: string): string {
  // The captured newline after the tag is not put back: trim_blocks drops exactly one.
  return template.replace(TAG, (...m: unknown[]) => {
    const [, lead, lDash, end, rDash, , offset] = m as [string, string, string, string | undefined, string, string, number];
    const atLineStart = offset === 0 || template[offset - 1] === '\n';
    const marker = end ? GENERATION_CLOSE : GENERATION_OPEN;
    return `${atLineStart ? '' : lead}{{${lDash} '${marker}' ${rDash}}}`;
  });
}

/**
 * Removes the generation markers from a render and returns the clean text with the character span
 * of each generation block in it, in order of their start.
 */
export function extractGenerationSpans(marked: string): { text: string; spans: CharSpan[] } {
  let text = '';
  const open: number[] = [];
  const spans: CharSpan[] = [];
  let last = 0;
  for (let i = 0; i < marked.length; i++) {
    const c = marked[i];
    if (c !== GENERATION_OPEN && c !== GENERATION_CLOSE) continue;
    text += marked.slice(last, i);
    last = i + 1;
    if (c === GENERATION_OPEN) open.push(text.length);
    else {
      const start = open.pop();
      if (start !== undefined) spans.push([start, text.length]);
    }
  }
  text += marked.slice(last);
  spans.sort((a, b) => a[0] - b[0]);
  return { text, spans };
}
