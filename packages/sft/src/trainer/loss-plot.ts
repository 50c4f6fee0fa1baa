/**
 * The loss curve as a standalone SVG (training and evaluation loss against the step), written
 * next to the logs so a run can be looked at without any tool. Both axes get ticks at round
 * numbers (1, 2 or 5 times a power of ten) and a title; the legend shows each line's sample.
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

/**
 * Round tick values covering [lo, hi] with about `target` intervals: the step is 1, 2 or 5 times a
 * power of ten (Heckbert's "nice numbers"), and the first and last ticks enclose the range.
 *
 * @example
 * ```ts
 * niceTicks(0.37, 9.2, 5) // [0, 2, 4, 6, 8, 10]
 * ```
 */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    return niceTicks(lo - d, lo + d, target);
  }
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out: number[] = [];
  for (let k = first; k <= last; k++) out.push(Number((k * step).toFixed(digits)));
  return out;
}

/** A tick label: no trailing zeros, and no float noise (0.30000000000000004 -> 0.3). */
export function tickLabel(v: number): string {
  return String(Number(v.toPrecision(6)));
}

export function lossPlotSvg(history: LogEntry[], title = 'loss'): string {
  const W = 640;
  const H = 360;
  const m = { l: 60, r: 20, t: 36, b: 48 };
  const series: [string, string, string, [number, number][]][] = [
    ['train loss', '#1f77b4', '', history.filter((e) => e.loss !== undefined).map((e) => [e.step, e.loss!])],
    ['eval loss', '#d62728', '6 4', history.filter((e) => e.eval_loss !== undefined).map((e) => [e.step, e.eval_loss!])],
  ];
  const pts = series.flatMap((s) => s[3]);
  if (pts.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="20" y="40">no loss logged</text></svg>`;
  const xt = niceTicks(Math.min(0, ...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0])), 6);
  const yt = niceTicks(Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1])), 5);
  const [x0, x1] = [xt[0]!, xt[xt.length - 1]!];
  const [y0, y1] = [yt[0]!, yt[yt.length - 1]!];
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const f = (v: number) => v.toFixed(1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`,
    // Grid lines and tick labels.
    ...yt.map((v) => `<line x1="${m.l}" x2="${W - m.r}" y1="${f(sy(v))}" y2="${f(sy(v))}" stroke="#e5e5e5"/><line x1="${m.l - 4}" x2="${m.l}" y1="${f(sy(v))}" y2="${f(sy(v))}" stroke="#333"/><text x="${m.l - 7}" y="${f(sy(v) + 4)}" text-anchor="end">${tickLabel(v)}</text>`),
    ...xt.map((v) => `<line x1="${f(sx(v))}" x2="${f(sx(v))}" y1="${m.t}" y2="${H - m.b}" stroke="#f0f0f0"/><line x1="${f(sx(v))}" x2="${f(sx(v))}" y1="${H - m.b}" y2="${H - m.b + 4}" stroke="#333"/><text x="${f(sx(v))}" y="${H - m.b + 17}" text-anchor="middle">${tickLabel(v)}</text>`),
    // Axes and their titles.
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle">optimizer step</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">loss (cross-entropy, nats/token)</text>`,
  ];
  const shown = series.filter((s) => s[3].length > 0);
  // Legend: a line sample (with a marker) and the name, in a white box at the top right.
  const lx = W - m.r - 130;
  parts.push(`<rect x="${lx - 8}" y="${m.t + 4}" width="128" height="${8 + 18 * shown.length}" fill="white" stroke="#ccc"/>`);
  shown.forEach(([name, color, dash, s], i) => {
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : '';
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dashAttr} points="${s.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ')}"/>`);
    for (const [x, y] of s.length <= 40 ? s : []) parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.5" fill="${color}"/>`);
    const ly = m.t + 17 + 18 * i;
    parts.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dashAttr}/><circle cx="${lx + 14}" cy="${ly}" r="2.5" fill="${color}"/><text x="${lx + 36}" y="${ly + 4}">${name}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
