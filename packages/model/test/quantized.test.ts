import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getDevice, keep, backward, type QDevice, type SafetensorsEntry } from '@q/core';
import { quantizeNF4, dequantizeNF4 } from '@q/nf4';
import { AutoModelForCausalLM, QuantLinear, randomWeights, saveQuantizedPretrained, projPath, ATTN_PROJ, MLP_PROJ } from '../src';
import { tinyQwen2 } from './tiny-configs';
import { cpuForward } from './cpu-model';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

const cfg = tinyQwen2();
const weights = randomWeights(cfg, 8, 0.2);
const qcfg = { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true, bnb_4bit_compute_dtype: 'float16' };

/** The checkpoint with every projection replaced by its NF4 round trip: what the 4-bit model computes. */
function roundTripped(): Record<string, SafetensorsEntry> {
  const out = { ...weights };
  for (let i = 0; i < cfg.numHiddenLayers; i++)
    for (const p of [...ATTN_PROJ, ...MLP_PROJ]) {
      const n = `${projPath(i, p)}.weight`;
      const w = weights[n]!;
      const q = quantizeNF4(w.data as Float32Array, { shape: w.shape, doubleQuant: true });
      out[n] = { ...w, data: dequantizeNF4(q) };
    }
  return out;
}

describe('4-bit loading', () => {
  it('quantizes decoder projections on load and computes the NF4 model exactly', async () => {
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights, quantizationConfig: qcfg });
    expect(model.layers[0]!.proj.q_proj).toBeInstanceOf(QuantLinear);
    const ids = [[4, 8, 15, 16, 23, 42]];
    const got = keep(model.logits({ inputIds: ids }));
    const ref = cpuForward(cfg, roundTripped(), ids).logits;
    const g = await got.read();
    let err = 0;
    let scale = 0;
    ref.forEach((v, i) => {
      err = Math.max(err, Math.abs(v - g[i]!));
      scale = Math.max(scale, Math.abs(v));
    });
    expect(err / scale).toBeLessThan(1e-5);
    got.release();
    model.release();
  });

  it('gradients flow through a frozen 4-bit projection to what precedes it', async () => {
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights, quantizationConfig: qcfg });
    const ln = model.layers[0]!.inputLayernorm;
    ln.requiresGrad = true;
    const loss = keep(model.forward({ inputIds: [[1, 2, 3, 4]], labels: [[1, 2, 3, 4]] }).loss!);
    backward(loss);
    const g = await ln.grad!.read();
    expect(g.some((v) => v !== 0)).toBe(true);
    loss.release();
    model.release();
  });

  it("writes a '-bnb-4bit' checkpoint that loads back as it is", async () => {
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights, quantizationConfig: qcfg });
    const dir = mkdtempSync(join(tmpdir(), 'q-bnb-'));
    await saveQuantizedPretrained(model, dir, qcfg);
    const conf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(conf.quantization_config).toMatchObject({ quant_method: 'bitsandbytes', load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: true });
    const ids = [[9, 8, 7, 6]];
    const a = keep(model.logits({ inputIds: ids }));
    const loaded = await AutoModelForCausalLM.fromPretrained(dir);
    expect(loaded.layers[1]!.proj.down_proj).toBeInstanceOf(QuantLinear);
    const b = keep(loaded.logits({ inputIds: ids }));
    expect(Array.from(await b.read())).toEqual(Array.from(await a.read()));
    for (const t of [a, b]) t.release();
    model.release();
    loaded.release();
  });
});
