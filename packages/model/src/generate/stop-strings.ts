/**
 * Stop strings as transformers' StopStringCriteria matches them: a row stops when its latest token
 * completes a stop string, even if that token runs past the string's end (`" stop."` completes
 * `"stop"`) or the string began several tokens earlier.
 */

/** Decodes token ids to text; AutoTokenizer fits. */
export interface TokenDecoder {
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
}

/**
 * True when a stop string ends inside the text of the last token of `ids`.
 *
 * @example
 * ```ts
 * completesStopString(tok, tok.encode('a b\n\nc'), ['\n\n']) // false: "c" came after it
 * ```
 */
export function completesStopString(tok: TokenDecoder, ids: number[], stops: string[]): boolean {
  if (stops.length === 0 || ids.length === 0) return false;
  const longest = Math.max(...stops.map((s) => s.length));
  // A token is at least one byte and a UTF-16 unit at most 3 bytes, so this window holds the
  // longest stop string before the last token, with room for a partial character at its start
  // (decoded as U+FFFD) that then lies outside every candidate match.
  const window = ids.slice(-(3 * longest + 5));
  const before = tok.decode(window.slice(0, -1)).length;
  const text = tok.decode(window);
  for (const s of stops) {
    // A match must end after `before`, i.e. start at or after before − s.length + 1.
    if (text.indexOf(s, Math.max(0, before - s.length + 1)) >= 0) return true;
  }
  return false;
}

/**
 * Streamed text as transformers' TextStreamer emits it: the text decoded so far minus what was
 * already sent, holding back a trailing U+FFFD (an incomplete UTF-8 character).
 */
export class IncrementalDecoder {
  private sent = 0;
  private readonly ids: number[] = [];
  constructor(private readonly tok: TokenDecoder) {}

  /** Adds tokens and returns the new text that is safe to show ('' when none). */
  push(ids: number[]): string {
    this.ids.push(...ids);
    const text = this.tok.decode(this.ids);
    if (text.endsWith('\uFFFD')) return '';
    const out = text.slice(this.sent);
    this.sent = text.length;
    return out;
  }

  /** Whatever is left at the end (an incomplete character included). */
  flush(): string {
    const text = this.tok.decode(this.ids);
    const out = text.slice(this.sent);
    this.sent = text.length;
    return out;
  }
}
