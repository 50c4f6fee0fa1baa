import { ValueError } from '@q/core';
import type { ChatMessage } from './types';

/**
 * Checks that `messages` is a conversation a chat template can render, and throws a
 * `ValueError` naming the first bad message by index (`messages[2].content: ...`) otherwise.
 * Templates read fields without checking them, so a bad message would otherwise surface as an
 * unrelated error deep inside the template (or, worse, render silently as "None").
 *
 * Rules: a non-empty array of objects; `role` a non-empty string; `content` a string or an array
 * of `{ type, ... }` parts (`text` parts need a string `text`); `content` may be null or missing
 * only on an assistant message with `tool_calls`; `tool_calls`, when present, an array of objects.
 *
 * @example
 * ```ts
 * validateMessages([{ role: 'user', content: 'Hi' }]); // ok
 * validateMessages([{ role: 'user' }]);
 * // ValueError: messages[0].content: expected a string or an array of content parts, got undefined
 * ```
 */
export function validateMessages(messages: unknown): asserts messages is ChatMessage[] {
  if (!Array.isArray(messages)) {
    throw new ValueError(`messages: expected an array of {role, content} objects, got ${describe(messages)}`);
  }
  if (messages.length === 0) throw new ValueError('messages: expected at least one message, got an empty array');
  messages.forEach((m, i) => validateMessage(m, i));
}

function validateMessage(m: unknown, i: number): void {
  const at = `messages[${i}]`;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) {
    throw new ValueError(`${at}: expected an object with "role" and "content", got ${describe(m)}`);
  }
  const msg = m as Record<string, unknown>;
  if (typeof msg.role !== 'string' || msg.role.length === 0) {
    throw new ValueError(
      `${at}.role: expected a non-empty string such as "system", "user", "assistant" or "tool", got ${describe(msg.role)}`,
    );
  }
  const toolCalls = msg.tool_calls;
  if (toolCalls !== undefined && toolCalls !== null) {
    if (!Array.isArray(toolCalls)) throw new ValueError(`${at}.tool_calls: expected an array, got ${describe(toolCalls)}`);
    toolCalls.forEach((c, j) => {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) {
        throw new ValueError(`${at}.tool_calls[${j}]: expected an object, got ${describe(c)}`);
      }
    });
  }
  const content = msg.content;
  const mayOmitContent = msg.role === 'assistant' && Array.isArray(toolCalls) && toolCalls.length > 0;
  if (content === undefined || content === null) {
    if (mayOmitContent) return;
    throw new ValueError(
      `${at}.content: expected a string or an array of content parts, got ${describe(content)}` +
        ' (only an assistant message with tool_calls may omit content)',
    );
  }
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) {
    throw new ValueError(`${at}.content: expected a string or an array of content parts, got ${describe(content)}`);
  }
  content.forEach((part, j) => {
    const pat = `${at}.content[${j}]`;
    if (typeof part !== 'object' || part === null || Array.isArray(part)) {
      throw new ValueError(`${pat}: expected an object like {type: "text", text: "..."}, got ${describe(part)}`);
    }
    const p = part as Record<string, unknown>;
    if (typeof p.type !== 'string') throw new ValueError(`${pat}.type: expected a string such as "text", got ${describe(p.type)}`);
    if (p.type === 'text' && typeof p.text !== 'string') {
      throw new ValueError(`${pat}.text: expected a string for a "text" part, got ${describe(p.text)}`);
    }
  });
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
