/** Where a command reads and writes: the process's streams, or test doubles. */
export interface CliIO {
  /** Results: answers, tables, paths. */
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  /** Progress bars, notes and warnings, so stdout stays clean for pipes. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** The chat REPL's input. */
  stdin: NodeJS.ReadableStream;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
}

/** A line on stdout. */
export function say(io: CliIO, line = ''): void {
  io.stdout.write(`${line}\n`);
}

/** A note on stderr. */
export function note(io: CliIO, line: string): void {
  io.stderr.write(`${line}\n`);
}
