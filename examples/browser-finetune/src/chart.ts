/**
 * A loss-per-step line chart on a <canvas>: axes with ticks, a line, the latest value.
 * NOTE: hand-drawn rather than Chart.js (STYLE.md prefers a library) because forty points need
 * about fifty lines, and the bundle stays free of a 200 KB dependency the test must load.
 */
export class LossChart {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly pad = { left: 48, right: 16, top: 16, bottom: 32 };

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly steps: number,
  ) {
    // Draw at the screen's pixel density so lines stay sharp.
    const dpr = globalThis.devicePixelRatio || 1;
    const { width, height } = canvas;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.width = width * dpr;
    canvas.height = height * dpr;
    this.ctx = canvas.getContext('2d')!;
    this.ctx.scale(dpr, dpr);
    this.draw([]);
  }

  draw(losses: number[]): void {
    const { ctx, pad, steps } = this;
    const W = this.canvas.width / (globalThis.devicePixelRatio || 1);
    const H = this.canvas.height / (globalThis.devicePixelRatio || 1);
    const yMax = Math.max(1, Math.ceil(Math.max(...losses, 0)));
    const x = (step: number) => pad.left + ((W - pad.left - pad.right) * step) / Math.max(steps - 1, 1);
    const y = (loss: number) => H - pad.bottom - ((H - pad.top - pad.bottom) * loss) / yMax;

    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    // Grid and y ticks: integers 0..yMax.
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= yMax; v++) {
      ctx.strokeStyle = '#e5e7eb';
      ctx.beginPath();
      ctx.moveTo(pad.left, y(v));
      ctx.lineTo(W - pad.right, y(v));
      ctx.stroke();
      ctx.fillStyle = '#374151';
      ctx.fillText(String(v), pad.left - 6, y(v));
    }
    // x ticks every 10 steps (steps counted from 1).
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let s = 0; s < steps; s += 10) ctx.fillText(String(s + 1), x(s), H - pad.bottom + 6);
    ctx.fillText('step', (W + pad.left) / 2, H - 14);
    // Axes.
    ctx.strokeStyle = '#111827';
    ctx.beginPath();
    ctx.moveTo(pad.left, pad.top);
    ctx.lineTo(pad.left, H - pad.bottom);
    ctx.lineTo(W - pad.right, H - pad.bottom);
    ctx.stroke();
    ctx.save();
    ctx.translate(12, (H - pad.bottom + pad.top) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText('loss', 0, -6);
    ctx.restore();
    if (losses.length === 0) return;
    // The loss line, and a dot with the value at its end.
    ctx.strokeStyle = '#2563eb';
    ctx.lineWidth = 2;
    ctx.beginPath();
    losses.forEach((l, i) => (i === 0 ? ctx.moveTo(x(i), y(l)) : ctx.lineTo(x(i), y(l))));
    ctx.stroke();
    const i = losses.length - 1;
    ctx.fillStyle = '#2563eb';
    ctx.beginPath();
    ctx.arc(x(i), y(losses[i]!), 3, 0, 2 * Math.PI);
    ctx.fill();
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    ctx.fillText(losses[i]!.toFixed(3), Math.min(x(i) + 6, W - pad.right - 36), y(losses[i]!) - 4);
  }
}
