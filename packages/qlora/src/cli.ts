/**
 * The `qlora` executable. Errors a user can fix (a bad config, a missing file, a full disk) are
 * printed as one line naming what to fix (see cli/run-cli.ts); anything else keeps its stack. The
 * WebGPU device is released at the end, or Node would not exit (Dawn keeps the event loop alive).
 */
import { runCli } from './cli/run-cli';
import { processIO } from './run/io';
import { disposeDevice } from './run/dispose';

try {
  process.exitCode = await runCli(process.argv, processIO());
} finally {
  disposeDevice();
}
