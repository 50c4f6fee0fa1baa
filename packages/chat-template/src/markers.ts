import { ValueError } from '@q/core';

/**
 * Private-use characters this package threads through a render to find where things land in the
 * output. They never appear in real chat text; a message that holds one is rejected rather than
 * risk a wrong mask.
 */
export const GENERATION_OPEN = '\uE000';
export const GENERATION_CLOSE = '\uE001';
export const CONTENT_END = '\uE002';

const ANY_MARKER = /[\uE000-\uE002]/;

/** Throws when a message already holds one of the markers. */
export function assertNoMarkers(messages: unknown[]): void {
  messages.forEach((m, i) => {
    const hit = ANY_MARKER.exec(JSON.stringify(m) ?? '');
    if (hit) {
      throw new ValueError(
        `messages[${i}] holds the private-use character U+${hit[0].charCodeAt(0).toString(16).toUpperCase()}; ` +
          '@q uses U+E000..U+E002 as markers to find assistant spans, so messages must not contain them',
      );
    }
  });
}
