/**
 * The `qlora` executable. Errors from @q (a bad config, a missing file) are printed as one line
 * naming what to fix; anything else keeps its stack. The WebGPU device is released at the end,
 * or Node would not exit (Dawn keeps the event loop alive).
 */
import { CommanderError } from 'commander';
import { QError } from '@q/core';
import { buildProgram } from './cli/program';
import { processIO } from './run/io';
import { disposeDevice } from './run/dispose';

async function main(): Promise<number> {
  const io = processIO();
  const program = buildProgram(io);
  try {
    await program.parseAsync(process.argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof QError) {
      io.stderr.write(`\nqlora: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    disposeDevice();
  }
}

process.exitCode = await main();
