/**
 * A progress bar on the terminal (stderr): redrawn in place on a TTY, one line per log otherwise,
 * so CI logs stay readable.
 */
export interface ProgressSink {
  update(step: number, total: number, info: Record<string, string | number>): void;
  log(line: string): void;
  done(): void;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

export function terminalProgress(stream: { write(s: string): unknown; isTTY?: boolean } = process.stderr, label = 'train'): ProgressSink {
  const start = Date.now();
  let last = '';
  const tty = !!stream.isTTY;
  return {
    update(step, total, info) {
      const frac = total > 0 ? step / total : 0;
      const width = 24;
      const full = Math.round(frac * width);
      const elapsed = (Date.now() - start) / 1000;
      const eta = frac > 0 ? (elapsed * (1 - frac)) / frac : NaN;
      const extras = Object.entries(info)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 1000 || Number.isInteger(v) ? Math.round(v) : v.toPrecision(4)) : v}`)
        .join(' | ');
      last = `${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${step}/${total} ${extras} | ${fmtTime(elapsed)}<${fmtTime(eta)}`;
      if (tty) stream.write(`\r${last}\x1b[K`);
    },
    log(line) {
      stream.write(tty ? `\r\x1b[K${line}\n${last}` : `${line}\n`);
    },
    done() {
      if (tty) stream.write('\n');
      else if (last) stream.write(`${last}\n`);
    },
  };
}

export const silentProgress: ProgressSink = { update() {}, log() {}, done() {} };
