/**
 * Streaming generation: an async iterator of text pieces (transformers' TextIteratorStreamer), the
 * way a chat UI prints a reply while it is being generated.
 */
import { ConfigError } from '@q/core';
import type { CausalLM } from '../modules/causal-lm';
import { generateWithDetails, type GenerateOptions } from './generate';
import type { TokenDecoder } from './stop-strings';

class StreamClosed extends Error {}

/**
 * Generates a continuation of one prompt and yields its text as it comes: each piece is what the
 * new tokens added to the decoded text (an incomplete UTF-8 character is held back until it is
 * whole). Leaving the loop early stops generation and frees its buffers.
 *
 * @example
 * ```ts
 * for await (const piece of generateStream(model, tok.encode('Once upon a time'), { tokenizer: tok, maxNewTokens: 64 })) {
 *   process.stdout.write(piece);
 * }
 * ```
 */
export async function* generateStream(
  model: CausalLM,
  prompt: ArrayLike<number>,
  opts: GenerateOptions & { tokenizer: TokenDecoder },
): AsyncGenerator<string, void, undefined> {
  if (!opts.tokenizer) throw new ConfigError('tokenizer', 'a tokenizer to decode the pieces with', opts.tokenizer, 'generateStream');
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  let finished = false;
  let closed = false;
  let error: unknown = null;
  const run = generateWithDetails(model, [prompt], {
    ...opts,
    streamer: async (ev) => {
      if (closed) throw new StreamClosed();
      await opts.streamer?.(ev);
      const piece = ev.text?.[0];
      if (piece) queue.push(piece);
      wake?.();
    },
  }).then(
    () => void (finished = true),
    (e: unknown) => void ((finished = true), (error = e)),
  );
  run.finally(() => wake?.());
  try {
    for (;;) {
      if (queue.length > 0) yield queue.shift()!;
      else if (finished) break;
      else await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  } finally {
    closed = true;
    await run;
  }
  if (error && !(error instanceof StreamClosed)) throw error;
}
