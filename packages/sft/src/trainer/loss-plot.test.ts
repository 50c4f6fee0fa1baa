import { describe, expect, it } from 'vitest';
import { lossPlotSvg, niceTicks, tickLabel } from './loss-plot';

describe('loss plot', () => {
  it('puts ticks at round numbers that enclose the data', () => {
    expect(niceTicks(0.37, 9.2, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0, 60, 6)).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(niceTicks(2.31, 2.87, 5)).toEqual([2.2, 2.4, 2.6, 2.8, 3]);
    expect(niceTicks(1, 7, 6)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(niceTicks(0, 24, 6)).toEqual([0, 5, 10, 15, 20, 25]);
    // A flat series still gets an axis around its value.
    expect(niceTicks(3, 3, 5)).toEqual([2.6, 2.8, 3, 3.2, 3.4]);
  });

  it('labels without float noise', () => {
    expect(tickLabel(0.1 + 0.2)).toBe('0.3');
    expect(tickLabel(20)).toBe('20');
  });

  it('draws both axes with titles, tick labels and a legend with line samples', () => {
    const svg = lossPlotSvg([
      { step: 2, loss: 8.8 },
      { step: 4, loss: 6.1 },
      { step: 4, eval_loss: 7.2 },
      { step: 6, loss: 2.4 },
    ]);
    expect(svg).toContain('optimizer step');
    expect(svg).toContain('loss (cross-entropy, nats/token)');
    for (const t of ['>0<', '>2<', '>4<', '>6<', '>8<', '>10<']) expect(svg).toContain(t);
    // One legend sample line per series, the eval one dashed like its curve.
    expect(svg.match(/<line x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="\1" stroke="#1f77b4" stroke-width="2"\/>/g)).toHaveLength(1);
    expect(svg).toMatch(/stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"\/><circle/);
    expect(svg).toContain('>train loss<');
    expect(svg).toContain('>eval loss<');
  });
});
