// The cost model of docs/scale-out.md: communication per optimizer step against compute per step,
// for LoRA and full fine-tuning, on one host and across hosts. Reads the measured all-reduce
// (benchmarks/results/allreduce-*.json) and the measured H200 step (benchmarks/results/
// sft-step-nvidia-h200.json), prints the tables in Markdown and writes comm-vs-compute.svg.
//   node docs/scale-out/figures.mjs benchmarks/results/allreduce-openmpi-2ranks-cpu2.json
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const ar = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const step = JSON.parse(readFileSync(new URL('../../benchmarks/results/sft-step-nvidia-h200.json', import.meta.url), 'utf8'));
const seedStep = step.results.find((r) => /checkpointing/.test(r.config) && !/no checkpointing/.test(r.config)).secondsPerStep;
const noCkptStep = step.results.find((r) => /no checkpointing/.test(r.config)).secondsPerStep;

// Assumptions (stated in the doc): host<->GPU copy through Dawn's staging buffers at 10 GB/s each
// way; full fine-tuning computes the weight gradients too (2NT more FLOPs on top of LoRA's 4NT).
const PCIE = 10e9;
const fullStep = noCkptStep * 1.5;
const w = Object.fromEntries(ar.predicted.map((p) => [p.name, p]));
const seedName = 'LoRA r=64 q,k,v (seed settings)';
const measured = Object.fromEntries(ar.workloads.map((r) => [r.name, r]));
const intra = (bytes) => ar.fit.latencyUs / 1e6 + bytes / (ar.fit.algGBs * 1e9);
// Two hosts, one rank each: a ring all-reduce sends 2 (n - 1) / n × bytes = bytes over the link.
const links = [
  ['2 hosts, 10 GbE', 1.25e9, 50e-6],
  ['2 hosts, 100 Gb/s (IB / RoCE)', 12.5e9, 5e-6],
  ['2 hosts, 400 Gb/s', 50e9, 5e-6],
];
const cases = [
  { name: seedName, what: 'LoRA r=64 q,k,v, seed settings (8 × 512 tokens/step)', short: 'LoRA r=64 q/k/v', compute: seedStep },
  // LoRA's own matmuls are small next to the frozen base's: the seed step's compute stands for both.
  { name: 'LoRA r=16 all-linear', what: 'LoRA r=16 all-linear', short: 'LoRA r=16 all-linear', compute: seedStep },
  { name: 'full fine-tuning Qwen2.5-0.5B', what: 'full fine-tuning, f32 gradients', short: 'full fine-tuning', compute: fullStep },
];
const rows = [];
for (const c of cases) {
  const bytes = w[c.name].bytes;
  const copy = (2 * bytes) / PCIE;
  const nets = [['1 host, 2 GPUs (shared memory, measured here)', intra(bytes)], ...links.map(([n, bw, lat]) => [n, lat + bytes / bw])];
  for (const [where, t] of nets) {
    const comm = copy + t;
    rows.push({ what: c.what, short: c.short, where, mib: bytes / 2 ** 20, compute: c.compute, copy, allreduce: t, comm, share: comm / (c.compute + comm), speedup: (2 * c.compute) / (c.compute + comm) });
  }
}
const f = (x, d = 1) => x.toFixed(d);
console.log('| workload | where | gradient MiB | compute s | host copies ms | all-reduce ms | comm share | speed-up of 2 ranks |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.what} | ${r.where} | ${f(r.mib)} | ${f(r.compute, 3)} | ${f(r.copy * 1e3)} | ${f(r.allreduce * 1e3)} | ${f(r.share * 100)}% | ${f(r.speedup, 2)}× |`);
const seed = measured[seedName];
if (seed) {
  const medShare = (2 * w[seedName].bytes / PCIE + seed.medianMs / 1e3) / (seedStep + 2 * w[seedName].bytes / PCIE + seed.medianMs / 1e3);
  const minShare = (2 * w[seedName].bytes / PCIE + seed.minMs / 1e3) / (seedStep + 2 * w[seedName].bytes / PCIE + seed.minMs / 1e3);
  console.log(`\nseed step ${f(seedStep, 3)} s; all-reduce of ${w[seedName].floats} floats measured: min ${f(seed.minMs, 2)} ms, median ${f(seed.medianMs, 2)} ms -> share ${f(minShare * 100, 2)}% (min) / ${f(medShare * 100, 2)}% (median, contended)`);
}

// The figure: one bar per (workload, where), compute and communication stacked, in seconds.
const W = 760, rowH = 22, left = 330, top = 40, scale = (W - left - 70) / Math.max(...rows.map((r) => r.compute + r.comm));
const bars = rows.map((r, i) => {
  const y = top + i * rowH + Math.floor(i / 4) * 14;
  const cw = r.compute * scale, mw = Math.max(1, r.comm * scale);
  return `<text x="${left - 8}" y="${y + 14}" text-anchor="end">${r.short} — ${r.where.replace(' (shared memory, measured here)', '')}</text>
<rect x="${left}" y="${y + 3}" width="${cw.toFixed(1)}" height="15" fill="#4e79a7"/><rect x="${(left + cw).toFixed(1)}" y="${y + 3}" width="${mw.toFixed(1)}" height="15" fill="#e15759"/>
<text x="${(left + cw + mw + 4).toFixed(1)}" y="${y + 14}">${f(r.share * 100)}%</text>`;
});
const h = top + rows.length * rowH + 3 * 14 + 20;
writeFileSync(
  `${here}comm-vs-compute.svg`,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" font-family="sans-serif" font-size="11">
<text x="10" y="18" font-size="13" font-weight="bold">One optimizer step on H200s with 2 data-parallel ranks: compute (blue) and gradient communication (red)</text>
<text x="10" y="32" fill="#555">compute: measured H200 step (benchmarks/results/sft-step-nvidia-h200.json); all-reduce: measured here or link bandwidth; % = communication share</text>
${bars.join('\n')}
</svg>
`,
);
console.error(`wrote ${here}comm-vs-compute.svg`);
