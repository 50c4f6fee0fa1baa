// Adapters on a subset of the projections (q/k/v as in the seed, q/v, MLP only) merged into a
// 4-bit base: the merged model must hold every tensor of the architecture — the layers without
// LoRA dequantized too — give the adapter model's logits, and survive a save/load round trip.
// (Before this, saveMerged wrote only the adapted layers: 18 of 26 tensors on this model.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDevice, keep, readSafetensors, FormatError, ValueError, type QDevice } from '@q/core';
import { AutoModelForCausalLM, Linear, checkpointLayout, randomWeights, savePretrained, type CausalLM } from '@q/model';
import { getPeftModel } from '@q/lora';
import { mergeAndUnload, saveMerged } from '../src';
import { tinyLlama, tinyQwen2 } from '../../model/test/tiny-configs';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const q4 = { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true };
const ids = [[7, 3, 9, 27, 1, 4, 60, 2]];
const SUBSETS: Record<string, string[]> = {
  'q/k/v (the seed)': ['q_proj', 'k_proj', 'v_proj'],
  'q/v': ['q_proj', 'v_proj'],
  'MLP only': ['gate_proj', 'up_proj', 'down_proj'],
};

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
}

async function logitsOf(m: CausalLM): Promise<Float32Array> {
  const t = keep(m.logits({ inputIds: ids }));
  const out = (await t.read()) as Float32Array;
  t.release();
  return out;
}

for (const [arch, cfg] of [['qwen2', tinyQwen2()], ['llama', tinyLlama()]] as const) {
  const weights = randomWeights(cfg, 5, 0.2);
  describe(`${arch}: adapters on a subset of modules, merged into a 4-bit base`, () => {
    for (const [label, targets] of Object.entries(SUBSETS)) {
      it(`${label}: every tensor is written, and the folder gives the adapter model's logits`, async () => {
        const base = await AutoModelForCausalLM.fromConfig(cfg, { weights, quantizationConfig: q4 });
        const peft = getPeftModel(base, { r: 4, lora_alpha: 8, target_modules: targets, init_lora_weights: false }, { seed: 9 });
        const adapted = await logitsOf(peft.base);
        const { model, report } = await mergeAndUnload(peft, { dtype: 'float32' });
        expect(report).toMatchObject({ layers: targets.length * cfg.numHiddenLayers, base: 'dequantized-4bit', dequantizedLayers: (7 - targets.length) * cfg.numHiddenLayers });
        for (const slot of model.linearSlots()) expect(slot.get(), slot.name).toBeInstanceOf(Linear);
        // In f32 the merge is exact up to the order of additions.
        expect(maxRel(await logitsOf(model), adapted)).toBeLessThan(1e-5);

        const dir = mkdtempSync(join(tmpdir(), 'q-merge-subset-'));
        await saveMerged(model, dir, { dtype: 'float16' });
        model.release();
        const st = await readSafetensors(readFileSync(join(dir, 'model.safetensors')), 'model.safetensors');
        expect(st.names().sort()).toEqual(checkpointLayout(cfg).map(([n]) => n).sort());
        const back = await AutoModelForCausalLM.fromPretrained(dir);
        // f16 storage rounds each weight by up to 2^-11 relative.
        expect(maxRel(await logitsOf(back), adapted)).toBeLessThan(2e-2);
        back.release();
      });
    }
  });
}

describe('writers refuse an incomplete model', () => {
  it('savePretrained on a model that still has 4-bit projections names what is missing', async () => {
    const cfg = tinyQwen2();
    const m = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 1), quantizationConfig: q4 });
    const dir = join(mkdtempSync(join(tmpdir(), 'q-merge-refuse-')), 'out');
    const err = await savePretrained(m, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(String((err as Error).message)).toMatch(/refusing to write an incomplete model folder: 14 of 26 tensors of the qwen2 architecture are missing \(model\.layers\.0\.self_attn\.q_proj\.weight/);
    m.release();
  });

  it('saveMerged on a re-quantized merge points to saveQuantizedPretrained', async () => {
    const cfg = tinyQwen2();
    const base = await AutoModelForCausalLM.fromConfig(cfg, { weights: randomWeights(cfg, 1), quantizationConfig: q4 });
    const { model } = await mergeAndUnload(getPeftModel(base, { r: 2, target_modules: ['q_proj'] }), { requantize: true });
    const err = await saveMerged(model, join(tmpdir(), 'never-written')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValueError);
    expect(String((err as Error).message)).toMatch(/14 projections are still 4-bit .*saveQuantizedPretrained/);
    model.release();
  });
});
