/**
 * `qlora chat`: a multi-turn conversation over stdin/stdout with the tokenizer's chat template.
 * Each reply is streamed as it is generated and appended to the history. `/exit` or end of input
 * ends the session; `/reset` starts a new conversation.
 */
import { createInterface } from 'node:readline';
import { generateWithDetails, type PipelineChatMessage } from '@q/model';
import { chatTemplateOf } from '../run/chat-format';
import { note, say, type CliIO } from '../run/io';
import { loadForInference, type InferenceOptions } from '../run/load-inference';
import { generationOptions, type GenerationFlags } from './generation-flags';

export interface ChatCommandOptions extends InferenceOptions, GenerationFlags {
  system?: string;
}

/** Runs the REPL until /exit or EOF; returns the conversation. */
export async function runChat(io: CliIO, o: ChatCommandOptions): Promise<PipelineChatMessage[]> {
  const m = await loadForInference(io, o);
  const { tokenizer } = m;
  const render = chatTemplateOf(tokenizer);
  const fresh = (): PipelineChatMessage[] => (o.system ? [{ role: 'system', content: o.system }] : []);
  let history = fresh();
  const tty = !!io.stdout.isTTY;
  const rl = createInterface({ input: io.stdin, output: tty ? io.stdout : undefined, terminal: tty });
  const prompt = () => tty && rl.prompt();
  rl.setPrompt('you> ');
  note(io, 'chat: type a message; /reset starts over, /exit (or Ctrl-D) quits');
  prompt();
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '/exit' || line === '/quit') break;
      if (line === '/reset') {
        history = fresh();
        note(io, '(new conversation)');
        prompt();
        continue;
      }
      if (line === '') {
        prompt();
        continue;
      }
      history.push({ role: 'user', content: line });
      const ids = tokenizer.encode(render(history, { addGenerationPrompt: true, continueFinalMessage: false }), { addSpecialTokens: false });
      io.stdout.write('assistant> ');
      const out = await generateWithDetails(m.model, [ids], {
        eosTokenId: tokenizer.eosTokenId,
        padTokenId: tokenizer.padTokenId ?? undefined,
        ...generationOptions(o, m.generationConfig),
        tokenizer: { decode: (x: number[]) => tokenizer.decode(x, { skipSpecialTokens: true }) },
        streamer: (e) => void io.stdout.write(e.text?.[0] ?? ''),
      });
      say(io);
      history.push({ role: 'assistant', content: tokenizer.decode(out.newTokens[0]!, { skipSpecialTokens: true }).trim() });
      prompt();
    }
  } finally {
    rl.close();
    m.release();
  }
  return history;
}
