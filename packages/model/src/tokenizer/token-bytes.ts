/**
 * The exact bytes of text each vocabulary token stands for, which the tokenizer library does not
 * expose; needed to map tokens back to character offsets. Two vocabulary styles cover our models:
 * GPT-2 byte-level (Qwen, Llama 3, SmolLM) and SentencePiece with `▁` for space and `<0xNN>` byte
 * fallback (Llama 2, TinyLlama, Mistral).
 */

export type VocabStyle = 'byte-level' | 'metaspace';

/** GPT-2's bytes_to_unicode, inverted: printable stand-in character → byte. */
function unicodeToBytes(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Map<string, number>();
  for (const b of printable) map.set(String.fromCharCode(b), b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) map.set(String.fromCharCode(256 + n++), b);
  }
  return map;
}

let byteLevelMap: Map<string, number> | undefined;
const utf8 = new TextEncoder();

/**
 * Decides the vocabulary style from tokenizer.json's decoder, or undefined when neither applies.
 *
 * @example
 * ```ts
 * vocabStyle({ decoder: { type: 'ByteLevel' } }) // 'byte-level'
 * ```
 */
export function vocabStyle(tokenizerJson: Record<string, unknown>): VocabStyle | undefined {
  const text = JSON.stringify(tokenizerJson.decoder ?? null);
  if (text.includes('"ByteLevel"')) return 'byte-level';
  if (text.includes('"Metaspace"') || (text.includes('▁') && text.includes('"ByteFallback"'))) return 'metaspace';
  return undefined;
}

/**
 * Bytes of one vocabulary token (not an added token: those are their literal content).
 * Returns undefined for a byte-level token holding a character outside the byte alphabet.
 */
export function vocabTokenBytes(token: string, style: VocabStyle): Uint8Array | undefined {
  if (style === 'byte-level') {
    byteLevelMap ??= unicodeToBytes();
    const out = new Uint8Array(token.length);
    for (let i = 0; i < token.length; i++) {
      const b = byteLevelMap.get(token[i]);
      if (b === undefined) return undefined;
      out[i] = b;
    }
    return out;
  }
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
  if (m) return new Uint8Array([parseInt(m[1], 16)]);
  return utf8.encode(token.replaceAll('▁', ' '));
}
