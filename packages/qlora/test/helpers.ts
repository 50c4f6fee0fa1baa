/** An in-memory CliIO: what a command wrote, and scripted stdin. */
import { Readable, Writable } from 'node:stream';
import type { CliIO } from '../src/run/io';

export interface CapturedIO extends CliIO {
  out(): string;
  err(): string;
}

export function captureIO(stdinLines: string[] = []): CapturedIO {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        add(String(chunk));
        cb();
      },
    });
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    stdin: Readable.from(stdinLines.map((l) => `${l}\n`)),
    out: () => out,
    err: () => err,
  };
}
