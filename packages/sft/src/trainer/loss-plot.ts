/**
 * The loss curve as a standalone SVG (training and evaluation loss against the step), written
 * next to the logs so a run can be looked at without any tool.
 */
export interface LogEntry {
  step: number;
  epoch?: number;
  loss?: number;
  eval_loss?: number;
  learning_rate?: number;
  grad_norm?: number;
  tokens_per_second?: number;
}

export function lossPlotSvg(history: LogEntry[], title = 'loss'): string {
  const W = 640;
  const H = 360;
  const m = { l: 56, r: 16, t: 32, b: 40 };
  const series: [string, string, [number, number][]][] = [
    ['train loss', '#1f77b4', history.filter((e) => e.loss !== undefined).map((e) => [e.step, e.loss!])],
    ['eval loss', '#d62728', history.filter((e) => e.eval_loss !== undefined).map((e) => [e.step, e.eval_loss!])],
  ];
  const pts = series.flatMap((s) => s[2]);
  if (pts.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="20" y="40">no loss logged</text></svg>`;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`,
    ...ticks.map((v) => `<line x1="${m.l}" x2="${W - m.r}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/><text x="${m.l - 6}" y="${sy(v) + 4}" text-anchor="end">${v.toFixed(3)}</text>`),
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">step (${x0}–${x1})</text>`,
  ];
  series.forEach(([name, color, s], i) => {
    if (s.length === 0) return;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    parts.push(`<text x="${W - m.r - 90}" y="${m.t + 16 * i}" fill="${color}">${name}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
