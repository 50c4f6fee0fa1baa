// Parity with peft on the tiny full-vocabulary Qwen2 model, through fixtures/peft-golden.json and
// the adapters next to it (tools/golden/peft_golden.py, run by tools/golden/run-all.sh):
//  - adapter-peft/ (made and saved by peft) loaded with loadAdapter: logits, logsumexp, loss;
//  - adapter-q/ (saved by @q, loaded by peft): the same, from peft's side;
//  - one training step on an SFT-style batch: loss, every LoRA gradient, the LoRA parameters after
//    torch.optim.AdamW's update (here @q/optim's AdamW), and the loss of the next two steps;
//  - peft's merge_and_unload of adapter-q: its merged weights are W + B·A·scaling, and a model built
//    from them gives peft's merged logits (the reference for @q/merge).
// The base model is rebuilt from the seeds the fixture echoes; the weight probe proves it is the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonFixture } from '@q/core/testing';
import { fileURLToPath } from 'node:url';
import { backward, bf16ToF32, f32ToBf16, getDevice, keep, type QDevice } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, randomWeights, type CausalLM, type ModelConfig } from '@q/model';
// NOTE: @q/optim is not a dependency of @q/lora; the test resolves it through the workspace
// (vitest aliases every @q package to its sources).
import { AdamW } from '@q/optim';
import { loadAdapter, type PeftModel } from '../src';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const FIXTURE = process.env.Q_PEFT_GOLDEN ?? `${FIXTURES}peft-golden.json`;
const ADAPTERS = process.env.Q_PEFT_GOLDEN ? FIXTURE.replace(/[^/]*$/, '') : FIXTURES;

/** Max |a - b| relative to the reference's max |.|. */
const LOGIT_TOL = 1e-4;
const GRAD_TOL = 1e-4;
const LOSS_RTOL = 2e-5;

interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
}
interface ForwardRecord {
  shape: [number, number, number];
  logsumexp: number[];
  logits_at_columns: number[];
  argmax: number[];
  top2_gap: number[];
  logits_abs_max: number;
  loss: number;
}
type Named = Record<string, { shape: number[]; data: number[] }>;
interface PeftGolden {
  peft: string;
  config: Record<string, unknown>;
  inputs: { weights: { seed: number; std: number; embedStd: number }; columns: number[]; batch: Batch; train: Batch };
  train_config: { lr: number; weight_decay: number; betas: [number, number]; eps: number; steps: number };
  weight_probe: Record<string, [number, number]>;
  adapter_q: ForwardRecord;
  adapter_peft: ForwardRecord;
  merge: ForwardRecord & { weights: Named };
  train: { losses: number[]; grads: Named; params_after_step: Named };
}

const golden: PeftGolden | null = readJsonFixture<PeftGolden>(FIXTURE, 'bash tools/golden/run-all.sh on a machine with torch + transformers + peft, then tools/golden/install-fixtures.sh') ?? null;

/** make-inputs.ts's weights: seeded randomWeights rounded to bf16. */
function goldenModelWeights(cfg: ModelConfig, w: PeftGolden['inputs']['weights']) {
  const out = randomWeights(cfg, w.seed, w.std, { embedStd: w.embedStd });
  for (const e of Object.values(out)) e.data = bf16ToF32(f32ToBf16(e.data as Float32Array));
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  // An all-zero reference (a gradient that cannot flow) must be matched exactly.
  return { diff, scale: scale || Number.MIN_VALUE };
}

/** logsumexp and the sampled columns at every unpadded position, against peft's record. */
async function compareForward(model: CausalLM | PeftModel, ref: ForwardRecord, batch: Batch, columns: number[], what: string) {
  const out = model.forward({ inputIds: batch.input_ids, attentionMask: batch.attention_mask, labels: batch.labels, returnLogits: true });
  const logits = keep(out.logits!);
  const loss = keep(out.loss!);
  try {
    const got = (await logits.read()) as Float32Array;
    const [B, T, V] = ref.shape;
    expect(got.length).toBe(B * T * V);
    let dLogit = 0;
    let dLse = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        if (batch.attention_mask[b]![t] === 0) continue; // padded queries attend to nothing in transformers
        const r = b * T + t;
        const row = got.subarray(r * V, (r + 1) * V);
        let max = -Infinity;
        for (let v = 0; v < V; v++) max = Math.max(max, row[v]!);
        let s = 0;
        for (let v = 0; v < V; v++) s += Math.exp(row[v]! - max);
        dLse = Math.max(dLse, Math.abs(max + Math.log(s) - ref.logsumexp[r]!));
        columns.forEach((c, k) => (dLogit = Math.max(dLogit, Math.abs(row[c]! - ref.logits_at_columns[r * columns.length + k]!))));
      }
    }
    const scale = ref.logits_abs_max;
    expect(dLogit / scale, `${what}: max |Δlogit| = ${dLogit.toExponential(3)} (|logits| ≤ ${scale.toFixed(3)})`).toBeLessThan(LOGIT_TOL);
    expect(dLse / scale, `${what}: max |Δlogsumexp| = ${dLse.toExponential(3)}`).toBeLessThan(LOGIT_TOL);
    const l = await loss.item();
    expect(Math.abs(l - ref.loss) / ref.loss, `${what}: loss ${l} vs peft ${ref.loss}`).toBeLessThan(LOSS_RTOL);
  } finally {
    logits.release();
    loss.release();
  }
}

if (!golden) {
  describe('golden parity with peft (@q/lora)', () => {
    it.skip('packages/lora/fixtures/peft-golden.json is absent: run `bash tools/golden/run-all.sh` on a machine with torch + transformers + peft, then tools/golden/install-fixtures.sh', () => {});
  });
} else {
  const g = golden;
  const cfg = parseModelConfig(g.config, 'peft-golden.json: config');
  const weights = goldenModelWeights(cfg, g.inputs.weights);
  let dev: QDevice;
  let model: CausalLM;
  beforeAll(async () => {
    dev = await getDevice();
    model = await AutoModelForCausalLM.fromConfig(cfg, { weights, dev });
  });
  afterAll(() => {
    model?.release();
    dev.dispose();
  });

  describe(`LoRA against peft ${g.peft}`, () => {
    it('rebuilds the base weights peft loaded', () => {
      for (const [n, [sum, abs]] of Object.entries(g.weight_probe)) {
        let s = 0;
        let a = 0;
        for (const x of weights[n]!.data as Float32Array) ((s += x), (a += Math.abs(x)));
        expect(Math.abs(s - sum), `${n}: sum`).toBeLessThanOrEqual(1e-9 * abs + 1e-12);
        expect(Math.abs(a - abs), `${n}: sum |.|`).toBeLessThanOrEqual(1e-9 * abs + 1e-12);
      }
    });

    it("loads peft's adapter to peft's logits and loss", async () => {
      const peft = await loadAdapter(model, `${ADAPTERS}adapter-peft`);
      try {
        expect([...peft.layers.keys()].sort()).toHaveLength(2 * 3);
        await compareForward(peft, g.adapter_peft, g.inputs.batch, g.inputs.columns, 'adapter-peft');
      } finally {
        peft.unload();
      }
    });

    it("gives the logits and loss peft gets from @q's adapter", async () => {
      const peft = await loadAdapter(model, `${ADAPTERS}adapter-q`);
      try {
        await compareForward(peft, g.adapter_q, g.inputs.batch, g.inputs.columns, 'adapter-q');
      } finally {
        peft.unload();
      }
    });

    it("merge_and_unload's weights are W + B·A·scaling, and give peft's merged logits", async () => {
      const peft = await loadAdapter(model, `${ADAPTERS}adapter-q`);
      const merged = { ...weights };
      try {
        expect(Object.keys(g.merge.weights).sort()).toEqual([...peft.layers.keys()].map((n) => `${n}.weight`).sort());
        for (const [name, l] of peft.layers) {
          const A = await l.loraA.read();
          const B = await l.loraB.read();
          const W = weights[`${name}.weight`]!.data as Float32Array;
          const out = new Float32Array(W.length);
          const [O, I, r] = [l.outFeatures, l.inFeatures, l.r];
          for (let o = 0; o < O; o++) {
            for (let i = 0; i < I; i++) {
              let d = 0;
              for (let k = 0; k < r; k++) d += B[o * r + k]! * A[k * I + i]!;
              out[o * I + i] = W[o * I + i]! + d * l.scaling;
            }
          }
          const ref = g.merge.weights[`${name}.weight`]!;
          expect(ref.shape).toEqual([O, I]);
          const { diff, scale } = maxAbsDiff(out, ref.data);
          expect(diff / scale, `${name}: max |ΔW| = ${diff.toExponential(3)}`).toBeLessThan(1e-6);
          merged[`${name}.weight`] = { ...weights[`${name}.weight`]!, data: out };
        }
      } finally {
        peft.unload();
      }
      const m = await AutoModelForCausalLM.fromConfig(cfg, { weights: merged, dev });
      try {
        await compareForward(m, g.merge, g.inputs.batch, g.inputs.columns, 'merged');
      } finally {
        m.release();
      }
    });

    it('one training step: loss, LoRA gradients, parameters after AdamW; then two more losses', async () => {
      const peft = await loadAdapter(model, `${ADAPTERS}adapter-peft`, { isTrainable: true });
      const tc = g.train_config;
      const opt = new AdamW(peft.trainableParameters(), { lr: tc.lr, betas: tc.betas, eps: tc.eps, weightDecay: tc.weight_decay });
      try {
        peft.train();
        const names = peft.trainableParameters().map(([n]) => n);
        expect(names.sort()).toEqual(Object.keys(g.train.grads).sort());
        const batch = g.inputs.train;
        for (let step = 0; step < tc.steps; step++) {
          const loss = keep(peft.forward({ inputIds: batch.input_ids, attentionMask: batch.attention_mask, labels: batch.labels }).loss!);
          const l = await loss.item();
          backward(loss);
          loss.release();
          const want = g.train.losses[step]!;
          expect(Math.abs(l - want) / want, `step ${step}: loss ${l} vs peft ${want}`).toBeLessThan(step === 0 ? LOSS_RTOL : 1e-4);
          if (step === 0) {
            for (const [n, p] of peft.trainableParameters()) {
              const { diff, scale } = maxAbsDiff(await p.grad!.read(), g.train.grads[n]!.data);
              expect(diff / scale, `${n}: max |Δgrad| = ${diff.toExponential(3)} (|grad| ≤ ${scale.toExponential(3)})`).toBeLessThan(GRAD_TOL);
            }
          }
          opt.step();
          opt.zeroGrad();
          if (step === 0) {
            for (const [n, p] of peft.trainableParameters()) {
              // Adam's first update is lr·g/(|g| + eps) ≈ ±lr: only a gradient within float noise of
              // zero can flip its sign, so those few elements may differ by up to 2·lr.
              const got = await p.read();
              const ref = g.train.params_after_step[n]!.data;
              const grad = g.train.grads[n]!.data;
              const gmax = Math.max(...grad.map(Math.abs));
              let worst = 0;
              for (let i = 0; i < ref.length; i++) {
                const tol = Math.abs(grad[i]!) > 10 * GRAD_TOL * gmax ? 1e-6 : 2 * tc.lr + 1e-6;
                worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / tol);
              }
              expect(worst, `${n}: parameters after AdamW differ by ${worst.toFixed(3)}× the tolerance`).toBeLessThanOrEqual(1);
            }
          }
        }
      } finally {
        opt.release();
        peft.unload();
      }
    });
  });
}
