import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDevice, keep, type QDevice } from '@q/core';
import { AutoModelForCausalLM, Linear, randomWeights } from '@q/model';
import { getPeftModel, saveAdapter } from '@q/lora';
import { mergeAndUnload, mergeAdapter, unmergeAdapter, mergeWeightedAdapters, saveMerged } from '../src';
import { tinyQwen2 } from '../../model/test/tiny-configs';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const cfg = tinyQwen2();
const weights = randomWeights(cfg, 21, 0.2);
const ids = [[7, 3, 9, 27, 1, 4]];
const lora = { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'down_proj'], init_lora_weights: false };

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>) {
  let m = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
}

describe('mergeAndUnload', () => {
  it('dense base: merged logits equal the adapter model’s', async () => {
    const peft = getPeftModel(await AutoModelForCausalLM.fromConfig(cfg, { weights }), lora, { seed: 1 });
    const before = keep(peft.base.logits({ inputIds: ids }));
    const { model, report } = await mergeAndUnload(peft);
    expect(report.layers).toBe(6);
    expect(model.layers[0]!.proj.q_proj).toBeInstanceOf(Linear);
    const after = keep(model.logits({ inputIds: ids }));
    expect(maxRel(await after.read(), await before.read())).toBeLessThan(1e-5);
    before.release();
    after.release();
    model.release();
  });

  it('4-bit base: dequantized merge keeps the adapter; re-quantizing is opt-in and reports its error', async () => {
    const q = { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true };
    const peft = getPeftModel(await AutoModelForCausalLM.fromConfig(cfg, { weights, quantizationConfig: q }), lora, { seed: 2 });
    const before = keep(peft.base.logits({ inputIds: ids }));
    const { model, report: r1 } = await mergeAndUnload(peft, { dtype: 'float32' });
    expect(r1.layers).toBe(6);
    const after = keep(model.logits({ inputIds: ids }));
    expect(maxRel(await after.read(), await before.read())).toBeLessThan(1e-5);
    // The layers the adapter did not touch (k, o, gate, up) are dequantized too: the merged model
    // is dense throughout, so its full-precision save has every weight and loads back the same.
    for (const slot of model.linearSlots()) expect(slot.get(), slot.name).toBeInstanceOf(Linear);
    const dir = mkdtempSync(join(tmpdir(), 'merge-4bit-'));
    await saveMerged(model, dir, { dtype: 'float32' });
    model.release();
    const loaded = await AutoModelForCausalLM.fromPretrained(dir);
    const reloaded = keep(loaded.logits({ inputIds: ids }));
    expect(maxRel(await reloaded.read(), await after.read())).toBeLessThan(1e-6);
    reloaded.release();
    loaded.release();

    const peft2 = getPeftModel(await AutoModelForCausalLM.fromConfig(cfg, { weights, quantizationConfig: q }), lora, { seed: 2 });
    const { model: m2, report } = await mergeAndUnload(peft2, { requantize: true });
    expect(report.requantizeError!.maxAbs).toBeGreaterThan(0);
    const rq = keep(m2.logits({ inputIds: ids }));
    // Rounding the merged weights back to 4 bits moves the logits: the reason it is opt-in.
    expect(maxRel(await rq.read(), await before.read())).toBeGreaterThan(1e-4);
    for (const t of [before, after, rq]) t.release();
    m2.release();
  });

  it('merge in place and unmerge round-trip', async () => {
    const peft = getPeftModel(await AutoModelForCausalLM.fromConfig(cfg, { weights }), lora, { seed: 3 });
    const a = keep(peft.base.logits({ inputIds: ids }));
    const w0 = await (peft.base.layers[0]!.proj.q_proj as unknown as { base: Linear }).base.weight.read();
    mergeAdapter(peft);
    const b = keep(peft.base.logits({ inputIds: ids }));
    unmergeAdapter(peft);
    const w1 = await (peft.base.layers[0]!.proj.q_proj as unknown as { base: Linear }).base.weight.read();
    expect(maxRel(await b.read(), await a.read())).toBeLessThan(1e-5);
    expect(maxRel(w1, w0)).toBeLessThan(1e-6);
    a.release();
    b.release();
    peft.release();
  });

  it('weighted merge of two adapters equals the sum of their weighted deltas', async () => {
    const d1 = mkdtempSync(join(tmpdir(), 'q-a1-'));
    const d2 = mkdtempSync(join(tmpdir(), 'q-a2-'));
    const p1 = getPeftModel(await AutoModelForCausalLM.fromConfig(cfg, { weights }), lora, { seed: 4 });
    await saveAdapter(p1, d1);
    p1.release();
    const p2 = getPeftModel(await AutoModelForCausalLM.fromConfig(cfg, { weights }), { ...lora, target_modules: ['q_proj', 'k_proj'] }, { seed: 5 });
    await saveAdapter(p2, d2);
    p2.release();
    // Weights 1 and 1: the same as applying both adapters on top of each other.
    const { model } = await mergeWeightedAdapters(await AutoModelForCausalLM.fromConfig(cfg, { weights }), [
      { dir: d1, weight: 1 },
      { dir: d2, weight: 1 },
    ]);
    const merged = keep(model.logits({ inputIds: ids }));
    const { loadAdapter } = await import('@q/lora');
    const { model: m1 } = await mergeAndUnload(await loadAdapter(await AutoModelForCausalLM.fromConfig(cfg, { weights }), d1));
    const stacked = await loadAdapter(m1, d2);
    const ref = keep(stacked.base.logits({ inputIds: ids }));
    expect(maxRel(await merged.read(), await ref.read())).toBeLessThan(1e-5);
    for (const t of [merged, ref]) t.release();
    model.release();
    stacked.release();
  });

  it('writes a Hugging Face folder in bf16 that loads back to the same logits', async () => {
    const peft = getPeftModel(await AutoModelForCausalLM.fromConfig(cfg, { weights }), lora, { seed: 6 });
    const { model } = await mergeAndUnload(peft, { dtype: 'bfloat16' });
    const dir = mkdtempSync(join(tmpdir(), 'q-merged-'));
    const files = await saveMerged(model, dir, { dtype: 'bfloat16' });
    expect(files).toContain('model.safetensors');
    const conf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(conf.torch_dtype).toBe('bfloat16');
    expect(conf.quantization_config).toBeUndefined();
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
    const a = keep(model.logits({ inputIds: ids }));
    const reloaded = await AutoModelForCausalLM.fromPretrained(dir);
    const b = keep(reloaded.logits({ inputIds: ids }));
    // Projections were rounded to bf16 at merge time, so only the embeddings/norms differ by rounding.
    expect(maxRel(await b.read(), await a.read())).toBeLessThan(2e-2);
    for (const t of [a, b]) t.release();
    model.release();
    reloaded.release();
  });
});
