import { ValueError } from '@q/core';
import { CONTENT_END } from './markers';
import type { CharSpan, ChatMessage } from './types';

/** Renders `messages` with the user's template and options; `addGenerationPrompt` as given. */
export type RenderFn = (messages: ChatMessage[], addGenerationPrompt: boolean) => string;

const TRAILING_WS = /[ \t\r\n]+$/;

/**
 * Finds, in the full render `full` of `messages`, the characters each assistant message makes the
 * model produce, for templates that have no `{% generation %}` blocks (Qwen2.5, Qwen3, Llama 3,
 * Zephyr, ...). A span starts where the generation prompt ends and runs through the end-of-turn
 * text (`<|im_end|>`, `<|eot_id|>`, `</s>`), without the whitespace the template puts between
 * turns: exactly what the model must learn to write, stop token included.
 *
 * Why by rendering and not by searching for a response key: the template is the only authority on
 * where a turn starts and ends, and a string search breaks as soon as the key appears in content or
 * tokenizes differently in context. Method, for assistant message i:
 * - start: render messages[0..i) with the generation prompt; the render must be a prefix of `full`
 *   (templates are append-only for earlier turns), and the span starts at its length.
 * - end, by prefix: render messages[0..i] without the generation prompt; if that is a prefix of
 *   `full`, the span ends at its length, trailing whitespace dropped.
 * - end, by marker, when the prefix differs (Qwen3 renders the latest assistant turn with a
 *   `<think>` block that earlier turns lose once a later user message arrives): put a private-use
 *   marker at the end of message i's content and render the full conversation; removing the marker
 *   must give `full` back. The marker's position is the content end; the text the template writes
 *   after the content of a final turn (its end-of-turn, from the prefix render with the marker) is
 *   added when `full` continues with it there.
 * Every step is checked against `full`; when none holds, a ValueError names the message and asks
 * for `{% generation %}` blocks, rather than return a mask that might be wrong.
 */
export function deriveAssistantSpans(render: RenderFn, messages: ChatMessage[], full: string, addGenerationPrompt: boolean): CharSpan[] {
  const spans: CharSpan[] = [];
  let floor = 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const start = findStart(render, messages, i, full);
    if (start === undefined || start < floor) {
      throw noSpan(i, 'the conversation rendered up to it with the generation prompt is not a prefix of the full render');
    }
    const end = findEndByPrefix(render, messages, i, full, start) ?? findEndByMarker(render, messages, i, full, start, addGenerationPrompt);
    if (end === undefined) throw noSpan(i, 'its end-of-turn could not be located in the full render');
    if (end > start) spans.push([start, end]);
    floor = end;
  });
  return spans;
}

function findStart(render: RenderFn, messages: ChatMessage[], i: number, full: string): number | undefined {
  const prompt = tryRender(render, messages.slice(0, i), true);
  return prompt !== undefined && full.startsWith(prompt) ? prompt.length : undefined;
}

function findEndByPrefix(render: RenderFn, messages: ChatMessage[], i: number, full: string, start: number): number | undefined {
  const upTo = tryRender(render, messages.slice(0, i + 1), false);
  if (upTo === undefined || !full.startsWith(upTo)) return undefined;
  const end = upTo.replace(TRAILING_WS, '').length;
  return end >= start ? end : undefined;
}

function findEndByMarker(
  render: RenderFn,
  messages: ChatMessage[],
  i: number,
  full: string,
  start: number,
  addGenerationPrompt: boolean,
): number | undefined {
  const marked = withContentEndMarker(messages[i]);
  if (!marked) return undefined;
  const withMarker = messages.map((m, j) => (j === i ? marked : m));
  const fullMarked = tryRender(render, withMarker, addGenerationPrompt);
  if (fullMarked === undefined || fullMarked.split(CONTENT_END).length !== 2) return undefined;
  if (fullMarked.replace(CONTENT_END, '') !== full) return undefined;
  const contentEnd = fullMarked.indexOf(CONTENT_END);
  const last = tryRender(render, withMarker.slice(0, i + 1), false);
  if (last === undefined || last.split(CONTENT_END).length !== 2) return undefined;
  const tail = last.slice(last.indexOf(CONTENT_END) + 1).replace(TRAILING_WS, '');
  if (contentEnd < start || !full.startsWith(tail, contentEnd)) return undefined;
  return contentEnd + tail.length;
}

// The marker goes before the content's trailing whitespace so that templates which `trim` the
// content (Llama 3) still remove that whitespace and leave the marker at the content's end.
function withContentEndMarker(m: ChatMessage): ChatMessage | undefined {
  const put = (s: string) => {
    const ws = TRAILING_WS.exec(s)?.[0] ?? '';
    return s.slice(0, s.length - ws.length) + CONTENT_END + ws;
  };
  if (typeof m.content === 'string') return m.content.trim() === '' ? undefined : { ...m, content: put(m.content) };
  if (Array.isArray(m.content)) {
    const k = m.content.map((p) => p.type === 'text' && typeof p.text === 'string' && p.text.trim() !== '').lastIndexOf(true);
    if (k < 0) return undefined;
    return { ...m, content: m.content.map((p, j) => (j === k ? { ...p, text: put(p.text as string) } : p)) };
  }
  return undefined;
}

function tryRender(render: RenderFn, messages: ChatMessage[], agp: boolean): string | undefined {
  try {
    return render(messages, agp);
  } catch {
    // A template may reject a partial conversation (e.g. one that must end with a user turn); the
    // caller then tries the next method.
    return undefined;
  }
}

function noSpan(i: number, why: string): ValueError {
  return new ValueError(
    `cannot derive the assistant span of messages[${i}] from this chat template: ${why}. ` +
      'Wrap the assistant output in the template with {% generation %}...{% endgeneration %} to mark it explicitly.',
  );
}
