import { Environment, Template } from '@huggingface/jinja';
import { PythonStringsInterpreter } from './python-strip';
import { FormatError, QError, ValueError } from '@q/core';
import { strftime } from './strftime';
import type { ChatMessage, SpecialTokens } from './types';

/** What one render of a template sees, besides the template itself. */
export interface RenderContext {
  messages: ChatMessage[];
  addGenerationPrompt: boolean;
  tools: unknown[] | null;
  documents: unknown[] | null;
  specialTokens: SpecialTokens;
  templateKwargs: Record<string, unknown>;
  /** Clock for `strftime_now`. */
  now: () => Date;
}

// Parsing dominates the cost of a render, and a dataset renders one template thousands of times.
const cache = new Map<string, Template>();
const CACHE_LIMIT = 32;

function compile(source: string): Template {
  let t = cache.get(source);
  if (t) return t;
  try {
    t = new Template(source);
  } catch (e) {
    throw new FormatError('chat_template', `cannot parse the Jinja template: ${(e as Error).message}`);
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(source, t);
  return t;
}

/**
 * Renders a Jinja chat template with the variables transformers' `apply_chat_template` passes:
 * the special tokens, then the extra template kwargs (which may override them, as in
 * transformers), then `messages`, `tools`, `documents`, `add_generation_prompt`, and the globals
 * `raise_exception` and `strftime_now`. @huggingface/jinja already applies trim_blocks and
 * lstrip_blocks and drops one trailing newline, as transformers' ImmutableSandboxedEnvironment
 * (trim_blocks=True, lstrip_blocks=True) does.
 */
export function renderTemplate(source: string, ctx: RenderContext): string {
  const template = compile(source);
  // Template.render would declare its own raise_exception (a plain Error) and a locale-dependent
  // strftime_now, and refuses redeclaration, so the environment is built here instead.
  const vars: Record<string, unknown> = {
    false: false, true: true, none: null, False: false, True: true, None: null,
    range: pyRange,
    raise_exception: (message: unknown) => {
      throw new ValueError(`the chat template rejected the conversation: ${String(message)}`);
    },
    strftime_now: (format: unknown) => strftime(ctx.now(), String(format)),
    ...ctx.specialTokens,
    ...ctx.templateKwargs,
    messages: ctx.messages,
    tools: ctx.tools,
    documents: ctx.documents,
    add_generation_prompt: ctx.addGenerationPrompt,
  };
  const env = new Environment();
  for (const [k, v] of Object.entries(vars)) env.set(k, v);
  try {
    return new PythonStringsInterpreter(env).run(template.parsed).value as string;
  } catch (e) {
    if (e instanceof QError) throw e;
    throw new ValueError(`the chat template failed to render: ${(e as Error).message}`);
  }
}

function pyRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new ValueError('range() step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}
