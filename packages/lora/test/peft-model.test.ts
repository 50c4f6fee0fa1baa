import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDevice, keep, backward, readSafetensors, type QDevice } from '@q/core';
import { AutoModelForCausalLM, randomWeights } from '@q/model';
import { getPeftModel, saveAdapter, loadAdapter, LoraLinear } from '../src';
import { tinyQwen2 } from '../../model/test/tiny-configs';
import { cpuForward, type CpuLora } from '../../model/test/cpu-model';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const cfg = tinyQwen2();
const weights = randomWeights(cfg, 5, 0.2);
const ids = [[3, 14, 15, 92, 65, 35]];
const labels = [[-100, -100, 15, 92, 65, 35]];

async function cpuLora(peft: Awaited<ReturnType<typeof getPeftModel>>): Promise<CpuLora> {
  const out: CpuLora = {};
  for (const [name, l] of peft.layers) {
    out[name] = {
      A: { shape: [...l.loraA.shape], data: Float64Array.from(await l.loraA.read()) },
      B: { shape: [...l.loraB.shape], data: Float64Array.from(await l.loraB.read()) },
      scaling: l.scaling,
    };
  }
  return out;
}

describe('getPeftModel', () => {
  it('starts equal to the base model, freezes it, and counts parameters like peft', async () => {
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
    const base = keep(model.logits({ inputIds: ids }));
    const peft = getPeftModel(model, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] });
    const adapted = keep(peft.base.logits({ inputIds: ids }));
    expect(Array.from(await adapted.read())).toEqual(Array.from(await base.read()));
    // 2 layers × (q: 4·32 + 32·4, v: 4·32 + 16·4)
    const trainable = 2 * (4 * 32 + 32 * 4 + 4 * 32 + 16 * 4);
    expect(peft.countParameters().trainable).toBe(trainable);
    const line = peft.printTrainableParameters(() => {});
    expect(line).toMatch(/^trainable params: 896 \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/);
    expect(peft.trainableParameters().every(([n]) => n.includes('lora_'))).toBe(true);
    base.release();
    adapted.release();
    peft.release();
  });

  it('LoRA gradients match finite differences of the float64 reference', async () => {
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
    // init_lora_weights=false makes B non-zero, so gradients of A are not trivially zero.
    const peft = getPeftModel(model, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'down_proj'], init_lora_weights: false }, { seed: 3 });
    const loss = keep(peft.forward({ inputIds: ids, labels }).loss!);
    const ref = await cpuLora(peft);
    const cpuLoss = cpuForward(cfg, weights, ids, labels, ref).loss!;
    expect(await loss.item()).toBeCloseTo(cpuLoss, 5);
    backward(loss);
    loss.release();
    for (const [name, layer] of peft.layers) {
      for (const which of ['A', 'B'] as const) {
        const t = which === 'A' ? layer.loraA : layer.loraB;
        const g = await t.grad!.read();
        const data = ref[name]![which].data;
        for (const k of [0, 3, data.length - 1]) {
          const x0 = data[k]!;
          const eps = 1e-5;
          data[k] = x0 + eps;
          const fp = cpuForward(cfg, weights, ids, labels, ref).loss!;
          data[k] = x0 - eps;
          const fm = cpuForward(cfg, weights, ids, labels, ref).loss!;
          data[k] = x0;
          const fd = (fp - fm) / (2 * eps);
          expect(Math.abs(g[k]! - fd), `${name} ${which}[${k}]`).toBeLessThan(2e-4 + 2e-3 * Math.abs(fd));
        }
      }
    }
    peft.release();
  });

  it('saves a PEFT adapter that loads back to the same logits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'q-adapter-'));
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
    const peft = getPeftModel(model, { r: 4, lora_alpha: 16, target_modules: ['k_proj', 'up_proj'], init_lora_weights: false }, { seed: 9 });
    const before = keep(peft.base.logits({ inputIds: ids }));
    await saveAdapter(peft, dir, { baseModelNameOrPath: 'tiny-qwen2' });
    const conf = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect(conf).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 16, target_modules: ['k_proj', 'up_proj'], base_model_name_or_path: 'tiny-qwen2' });
    const st = await readSafetensors(readFileSync(join(dir, 'adapter_model.safetensors')), 'adapter');
    expect(st.names().sort()).toContain('base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight');
    expect(st.names()).toHaveLength(2 * 2 * 2);
    peft.release();

    const fresh = await AutoModelForCausalLM.fromConfig(cfg, { weights });
    const loaded = await loadAdapter(fresh, dir);
    expect([...loaded.layers.values()].every((l) => l instanceof LoraLinear)).toBe(true);
    const after = keep(loaded.base.logits({ inputIds: ids }));
    expect(Array.from(await after.read())).toEqual(Array.from(await before.read()));
    expect(loaded.trainableParameters()).toHaveLength(0);
    before.release();
    after.release();
    loaded.release();
  });

  it('names the bad tensor when an adapter does not fit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'q-adapter-'));
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
    const peft = getPeftModel(model, { r: 4, target_modules: ['q_proj'] });
    await saveAdapter(peft, dir);
    peft.release();
    const other = await AutoModelForCausalLM.fromConfig({ ...cfg, hiddenSize: 48, headDim: 12 }, { seed: 1 });
    await expect(loadAdapter(other, dir)).rejects.toThrow(/lora_A\.weight" has shape \[4,32\], expected \[4, 48\]/);
    other.release();
  });
});
