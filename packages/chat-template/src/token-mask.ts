import { ValueError } from '@q/core';
import type { CharSpan, ChatTokenizer } from './types';

/**
 * Tokenizes `text` as transformers' apply_chat_template does (no special tokens added: the
 * template already wrote them) and marks with 1 every token that lies in one of `spans`.
 *
 * With `encodeWithOffsets`, a token is masked when its characters overlap a span, which is
 * transformers' rule (char_to_token of the span's first and last character, and all between).
 * Without offsets, token boundaries are found by tokenizing: first segment by segment, cut at every
 * span boundary (cheap, and exact for BPE when boundaries sit next to special tokens, as they do in
 * ChatML and Llama 3); if the segments' tokens do not concatenate to the full tokenization, by
 * tokenizing each prefix text[0, b) and checking it is a prefix of the full tokenization (exact for
 * tokenizers that add a leading space per call, like SentencePiece). If a boundary falls inside a
 * token, no mask would be right, so a ValueError says where.
 */
export function spansToTokenMask(text: string, spans: CharSpan[], tokenizer: ChatTokenizer): { inputIds: number[]; mask: number[] } {
  // No special tokens on either path: the rendered template already holds the ones it wants (as
  // transformers' apply_chat_template tokenizes), so a tokenizer that adds BOS must not add it here.
  if (tokenizer.encodeWithOffsets) return maskFromOffsets(text, spans, tokenizer.encodeWithOffsets(text, { addSpecialTokens: false }));
  const inputIds = tokenizer.encode(text, { addSpecialTokens: false });
  const cuts = [...new Set(spans.flat().filter((b) => b > 0 && b < text.length))].sort((a, b) => a - b);
  const tokenAt = tokenBoundariesBySegments(text, cuts, inputIds, tokenizer) ?? tokenBoundariesByPrefixes(text, cuts, inputIds, tokenizer);
  tokenAt.set(0, 0);
  tokenAt.set(text.length, inputIds.length);
  const mask = new Array<number>(inputIds.length).fill(0);
  for (const [s, e] of spans) {
    for (let t = tokenAt.get(s)!; t < tokenAt.get(e)!; t++) mask[t] = 1;
  }
  return { inputIds, mask };
}

function maskFromOffsets(text: string, spans: CharSpan[], enc: { ids: number[]; offsets: [number, number][] }) {
  if (enc.offsets.length !== enc.ids.length) {
    throw new ValueError(`tokenizer.encodeWithOffsets returned ${enc.ids.length} ids but ${enc.offsets.length} offsets for a ${text.length}-character text`);
  }
  const mask = enc.offsets.map(([a, b]) => (spans.some(([s, e]) => a < e && b > s) ? 1 : 0));
  return { inputIds: enc.ids, mask };
}

function tokenBoundariesBySegments(text: string, cuts: number[], ids: number[], tokenizer: ChatTokenizer): Map<number, number> | undefined {
  const at = new Map<number, number>();
  let n = 0;
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    const seg = tokenizer.encode(text.slice(from, cut), { addSpecialTokens: false });
    for (let k = 0; k < seg.length; k++) if (ids[n + k] !== seg[k]) return undefined;
    n += seg.length;
    at.set(cut, n);
    from = cut;
  }
  return n === ids.length ? at : undefined;
}

function tokenBoundariesByPrefixes(text: string, cuts: number[], ids: number[], tokenizer: ChatTokenizer): Map<number, number> {
  const at = new Map<number, number>();
  for (const cut of cuts) {
    const prefix = tokenizer.encode(text.slice(0, cut), { addSpecialTokens: false });
    if (prefix.length > ids.length || prefix.some((id, k) => ids[k] !== id)) {
      const around = JSON.stringify(text.slice(Math.max(0, cut - 12), cut)) + ' | ' + JSON.stringify(text.slice(cut, cut + 12));
      throw new ValueError(
        `the assistant span boundary at character ${cut} (${around}) falls inside a token, so no token mask matches it; ` +
          'give the tokenizer encodeWithOffsets for an overlap-based mask, or change the template so turns end at a special token',
      );
    }
    at.set(cut, prefix.length);
  }
  return at;
}
