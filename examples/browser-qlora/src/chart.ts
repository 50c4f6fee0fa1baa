/** The live loss chart: training loss per step and eval loss, drawn with uPlot. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export class LossChart {
  private plot: uPlot;
  private steps: number[] = [];
  private train: (number | null)[] = [];
  private evals: (number | null)[] = [];

  constructor(el: HTMLElement) {
    this.plot = new uPlot(
      {
        width: Math.min(940, el.clientWidth || 940),
        height: 260,
        scales: { x: { time: false } },
        // Whole steps on the x axis: 1, 2, 5, 10, ... apart.
        axes: [{ label: 'optimizer step', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] }, { label: 'loss' }],
        series: [
          { label: 'step' },
          { label: 'training loss', stroke: '#1f77b4', width: 2, spanGaps: true },
          { label: 'eval loss', stroke: '#d62728', width: 2, spanGaps: true, points: { show: true, size: 6 } },
        ],
      },
      [[], [], []],
      el,
    );
  }

  add(step: number, loss?: number, evalLoss?: number): void {
    let i = this.steps.indexOf(step);
    if (i < 0) {
      this.steps.push(step);
      this.train.push(null);
      this.evals.push(null);
      i = this.steps.length - 1;
    }
    if (loss !== undefined) this.train[i] = loss;
    if (evalLoss !== undefined) this.evals[i] = evalLoss;
    this.plot.setData([this.steps, this.train, this.evals]);
  }
}
