import { ValueError } from '@q/core';

/** A token to place in the text: its bytes, and whether it is an added token matched literally. */
export interface TokenPiece {
  bytes: Uint8Array;
  /** Added/special tokens may sit after whitespace they strip (lstrip/rstrip). */
  added: boolean;
}

/**
 * Character offsets [start, end) in `text` (UTF-16 indices, as `text.slice` takes) of each token,
 * found by walking the text's UTF-8 bytes alongside the tokens' bytes. The spans follow the Rust
 * tokenizer's (transformers' `offset_mapping`), only counted in UTF-16 units where Python counts
 * code points: a token that holds part of a character (one emoji in several byte tokens) spans that
 * whole character, so its neighbours overlap it. A space the tokenizer inserted itself
 * (SentencePiece's leading `▁`) adds nothing to a token's span, and a `▁` token of its own spans
 * the character it was inserted before, as Rust aligns an inserted character with the next one.
 *
 * @example
 * ```ts
 * alignOffsets('hi there', [{ bytes: b('hi'), added: false }, { bytes: b(' there'), added: false }])
 * // [[0, 2], [2, 8]]
 * ```
 */
export function alignOffsets(text: string, tokens: TokenPiece[]): Array<[number, number]> {
  const bytes = new TextEncoder().encode(text);
  const { floor, ceil } = byteToCharMaps(text, bytes.length);
  const out: Array<[number, number]> = [];
  let p = 0;
  for (const [i, t] of tokens.entries()) {
    let start = p;
    let len = t.bytes.length;
    if (matchesAt(bytes, t.bytes, p)) {
      // exact
    } else if (t.added && (start = skipSpacesTo(bytes, t.bytes, p)) >= 0) {
      // lstrip: the token swallowed whitespace before it; that whitespace belongs to no token.
    } else if (t.bytes[0] === 0x20 && matchesAt(bytes, t.bytes.subarray(1), p)) {
      start = p;
      len -= 1;
      if (len === 0 && p < bytes.length) {
        // A lone inserted ▁: the span of the next character; the next token starts there too.
        out.push([floor[p], ceil[p + 1]]);
        continue;
      }
    } else {
      const near = new TextDecoder().decode(bytes.subarray(p, p + 12));
      throw new ValueError(
        `cannot map token ${i} (${JSON.stringify(new TextDecoder().decode(t.bytes))}) onto the text at ${JSON.stringify(near)}: ` +
          'the tokenizer normalizes this text (e.g. it is not NFC; call text.normalize("NFC") first), so offsets are unavailable',
      );
    }
    out.push([floor[start], ceil[start + len]]);
    p = start + len;
  }
  return out;
}

function matchesAt(hay: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > hay.length) return false;
  for (let j = 0; j < needle.length; j++) if (hay[at + j] !== needle[j]) return false;
  return true;
}

/** Position of `needle` after only ASCII whitespace from `at`, or -1. */
function skipSpacesTo(hay: Uint8Array, needle: Uint8Array, at: number): number {
  let q = at;
  while (q < hay.length && (hay[q] === 0x20 || hay[q] === 0x0a || hay[q] === 0x09 || hay[q] === 0x0d)) {
    q++;
    if (matchesAt(hay, needle, q)) return q;
  }
  return -1;
}

/** For each UTF-8 byte position: the UTF-16 index of its character (floor) or of the next (ceil). */
function byteToCharMaps(text: string, nBytes: number): { floor: Int32Array; ceil: Int32Array } {
  const floor = new Int32Array(nBytes + 1);
  const ceil = new Int32Array(nBytes + 1);
  let b = 0;
  let c = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) {
      floor[b + k] = c;
      ceil[b + k] = k === 0 ? c : c + ch.length;
    }
    b += n;
    c += ch.length;
  }
  floor[nBytes] = ceil[nBytes] = c;
  return { floor, ceil };
}
