import { ValueError } from '@q/core';
import type { ChatMessage } from './types';

// transformers' tag, kept identical so templates that special-case it behave the same.
const TAG = 'CONTINUE_FINAL_MESSAGE_TAG ';

/**
 * Appends transformers' continue tag to the final message's text, returning the messages to render
 * and the original final text (needed by {@link cutAtContinueTag}).
 */
export function addContinueTag(messages: ChatMessage[]): { messages: ChatMessage[]; finalText: string } {
  const last = messages[messages.length - 1];
  if (typeof last.content === 'string') {
    return { messages: [...messages.slice(0, -1), { ...last, content: last.content + TAG }], finalText: last.content };
  }
  const parts = Array.isArray(last.content) ? last.content : [];
  for (let k = parts.length - 1; k >= 0; k--) {
    const text = parts[k].text;
    if (typeof text === 'string') {
      const content = parts.map((p, j) => (j === k ? { ...p, text: text + TAG } : p));
      return { messages: [...messages.slice(0, -1), { ...last, content }], finalText: text };
    }
  }
  throw new ValueError(`messages[${messages.length - 1}]: continueFinalMessage is set but the final message has no text to continue`);
}

/**
 * Cuts the render at the continue tag, as transformers does: right before it when the template
 * kept the tag's trailing space, else before it and any whitespace the template trimmed.
 */
export function cutAtContinueTag(rendered: string, finalText: string): string {
  const tag = TAG.trim();
  if (!rendered.includes(finalText.trim()) || !rendered.includes(tag)) {
    throw new ValueError(
      'continueFinalMessage is set but the final message does not appear in the rendered chat; ' +
        'the template drops or rewrites part of it, so it cannot be continued',
    );
  }
  const at = rendered.lastIndexOf(tag);
  return rendered.startsWith(TAG, at) ? rendered.slice(0, at) : rendered.slice(0, at).trimEnd();
}
