import { describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { buildProgram } from '../src/cli/program';
import { captureIO } from './helpers';

async function run(args: string[]) {
  const io = captureIO();
  let code = 0;
  try {
    await buildProgram(io).exitOverride().parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    code = e.exitCode;
  }
  return { code, out: io.out(), err: io.err() };
}

describe('qlora --help', () => {
  it('lists every command', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['train', 'merge', 'generate', 'chat', 'quantize', 'info']) expect(r.out).toMatch(new RegExp(`\\n  ${c}\\b`));
  });

  it('documents the config sections under train --help', async () => {
    const r = await run(['train', '--help']);
    expect(r.out).toContain('Usage: qlora train [options] [config]');
    for (const s of ['quantization_config', 'lora', 'training', 'dataset', 'merge', 'preview']) expect(r.out).toContain(s);
  });

  it('gives each command its options', async () => {
    expect((await run(['merge', '--help'])).out).toMatch(/--dtype <dtype>[^]*choices: "float16",\s+"bfloat16",\s+"float32"/);
    const gen = (await run(['generate', '--help'])).out;
    for (const o of ['--model <dir>', '--adapter <dir>', '--prompt <text>', '--max-new-tokens <n>', '--temperature <t>', '--top-p <p>']) expect(gen).toContain(o);
    expect((await run(['chat', '--help'])).out).toContain('/exit');
    expect((await run(['quantize', '--help'])).out).toMatch(/--quant-type <type>[^]*"nf4",\s+"fp4"[^]*--double-quant/);
    expect((await run(['info', '--help'])).out).toContain('--adapter <dir>');
  });

  it('rejects bad flags with a suggestion', async () => {
    const r = await run(['merge', '--base', 'a', '--adapter', 'b', '--out', 'c', '--dtype', 'int8']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/Allowed choices are float16, bfloat16, float32/);
    expect((await run(['trian'])).err).toMatch(/Did you mean train\?/);
    expect((await run(['generate', '--model', 'm', '--prompt', 'p', '--max-new-tokens', '0'])).err).toMatch(/--max-new-tokens must be an integer >= 1/);
  });
});
