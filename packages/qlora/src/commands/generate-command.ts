/** `qlora generate`: one prompt, the continuation streamed to stdout token by token. */
import { generateWithDetails } from '@q/model';
import { chatTemplateOf } from '../run/chat-format';
import { say, type CliIO } from '../run/io';
import { loadForInference, type InferenceOptions } from '../run/load-inference';
import { generationOptions, type GenerationFlags } from './generation-flags';

export interface GenerateCommandOptions extends InferenceOptions, GenerationFlags {
  prompt: string;
  /** Wrap the prompt in the chat template as a user turn. Default false: raw text. */
  chat?: boolean;
  system?: string;
}

/** Streams the continuation to stdout and returns it. */
export async function runGenerate(io: CliIO, o: GenerateCommandOptions): Promise<string> {
  const m = await loadForInference(io, o);
  try {
    const { tokenizer } = m;
    let ids: number[];
    if (o.chat || o.system) {
      const messages = [...(o.system ? [{ role: 'system', content: o.system }] : []), { role: 'user', content: o.prompt }];
      ids = tokenizer.encode(chatTemplateOf(tokenizer)(messages, { addGenerationPrompt: true, continueFinalMessage: false }), { addSpecialTokens: false });
    } else {
      ids = tokenizer.encode(o.prompt, { addSpecialTokens: true });
      io.stdout.write(o.prompt);
    }
    let text = '';
    await generateWithDetails(m.model, [ids], {
      eosTokenId: tokenizer.eosTokenId,
      padTokenId: tokenizer.padTokenId ?? undefined,
      ...generationOptions(o, m.generationConfig),
      // Special tokens (the end-of-turn mark) are not shown.
      tokenizer: { decode: (x: number[]) => tokenizer.decode(x, { skipSpecialTokens: true }) },
      streamer: (e) => {
        const piece = e.text?.[0] ?? '';
        text += piece;
        io.stdout.write(piece);
      },
    });
    say(io);
    return text;
  } finally {
    m.release();
  }
}
