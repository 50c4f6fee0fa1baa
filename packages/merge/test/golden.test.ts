// transformers loads the folder @q/merge writes: tools/golden/make-merged.ts merged @q's adapter-q
// (packages/lora/fixtures/adapter-q) into the tiny Qwen2 base in float16 and saved it with
// saveMerged; tools/golden/merged_golden.py loaded it with AutoModelForCausalLM and recorded its
// logits. Here the same merge is made again and its logits must match what transformers got.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesPresent } from '@q/core/testing';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bf16ToF32, f32ToBf16, getDevice, keep, type QDevice } from '@q/core';
import { AutoModelForCausalLM, parseModelConfig, randomWeights } from '@q/model';
import { loadAdapter } from '@q/lora';
import { mergeAndUnload } from '../src';

const FIXTURE = fileURLToPath(new URL('../fixtures/merged-golden.json', import.meta.url));
const PEFT = fileURLToPath(new URL('../../lora/fixtures/peft-golden.json', import.meta.url));
const ADAPTER = fileURLToPath(new URL('../../lora/fixtures/adapter-q', import.meta.url));

interface Rec {
  logsumexp: number[];
  logits_at_columns: number[];
  logits_abs_max: number;
  loss: number;
}
const golden = fixturesPresent([FIXTURE, PEFT, ADAPTER], 'bash tools/golden/run-all.sh on a machine with torch + transformers + peft, then tools/golden/install-fixtures.sh (after tools/golden/make-merged.ts)')
  ? (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { transformers: string; config: Record<string, unknown>; files: string[]; inputs: { batch: { input_ids: number[][]; attention_mask: number[][]; labels: number[][] }; columns: number[] }; merged: Rec })
  : null;
const peftInputs = golden ? (JSON.parse(readFileSync(PEFT, 'utf8')).inputs.weights as { seed: number; std: number; embedStd: number }) : null;

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe.skipIf(!golden)(`merged folder loaded by transformers ${golden?.transformers ?? ''}`, () => {
  it('was written as a plain float16 model', () => {
    expect(golden!.config.torch_dtype).toBe('float16');
    expect(golden!.config.quantization_config).toBeUndefined();
    expect(golden!.files).toContain('model.safetensors');
  });

  it('gives the logits and loss of @q’s own merge', async () => {
    const cfg = parseModelConfig(golden!.config, 'merged config.json');
    const w = randomWeights(cfg, peftInputs!.seed, peftInputs!.std, { embedStd: peftInputs!.embedStd });
    for (const e of Object.values(w)) e.data = bf16ToF32(f32ToBf16(e.data as Float32Array));
    const base = await AutoModelForCausalLM.fromConfig(cfg, { weights: w });
    const { model } = await mergeAndUnload(await loadAdapter(base, ADAPTER), { dtype: 'float16' });
    const { batch, columns } = golden!.inputs;
    const out = model.forward({ inputIds: batch.input_ids, attentionMask: batch.attention_mask, labels: batch.labels, returnLogits: true });
    const logits = keep(out.logits!);
    const loss = keep(out.loss!);
    const L = (await logits.read()) as Float32Array;
    const [B, T] = [batch.input_ids.length, batch.input_ids[0]!.length];
    const V = L.length / (B * T);
    let diff = 0;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) {
        if (!batch.attention_mask[b]![t]) continue;
        const p = b * T + t;
        let m = -Infinity;
        for (let v = 0; v < V; v++) m = Math.max(m, L[p * V + v]!);
        let s = 0;
        for (let v = 0; v < V; v++) s += Math.exp(L[p * V + v]! - m);
        diff = Math.max(diff, Math.abs(m + Math.log(s) - golden!.merged.logsumexp[p]!));
        columns.forEach((c, j) => {
          diff = Math.max(diff, Math.abs(L[p * V + c]! - golden!.merged.logits_at_columns[p * columns.length + j]!));
        });
      }
    expect(diff / golden!.merged.logits_abs_max, `max |logit diff| ${diff}`).toBeLessThan(1e-4);
    expect(Math.abs((await loss.item()) - golden!.merged.loss) / golden!.merged.loss).toBeLessThan(2e-5);
    logits.release();
    loss.release();
    model.release();
  });
});
