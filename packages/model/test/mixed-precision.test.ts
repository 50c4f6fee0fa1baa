// computeDtype 'f16': the decoder runs its matmuls and attention in f16 (checked on the tensors
// the projections see) and the loss and gradients stay close to the float64 reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDevice, keep, backward, type QDevice, type Tensor } from '@q/core';
import { AutoModelForCausalLM, randomWeights } from '../src';
import { tinyQwen2 } from './tiny-configs';
import { cpuForward } from './cpu-model';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe('computeDtype f16', () => {
  it('projections compute in f16; loss within f16 error of the float64 reference; f32 gradients', async () => {
    if (!dev.info.f16) throw new Error('this adapter lacks shader-f16 (lavapipe has it)');
    const cfg = tinyQwen2();
    const weights = randomWeights(cfg, 3, 0.2);
    const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
    const ids = [
      [5, 17, 3, 44, 9, 0, 12],
      [1, 2, 3, 4, 5, 6, 7],
    ];
    const ref = cpuForward(cfg, weights, ids, ids);
    model.setComputeDtype('f16');
    const seen: string[] = [];
    const q = model.layers[0]!.proj.q_proj;
    const orig = q.forward.bind(q);
    q.forward = (x: Tensor) => {
      const y = orig(x);
      seen.push(`${x.dtype}->${y.dtype}`);
      return y;
    };
    model.layers[0]!.inputLayernorm.requiresGrad = true;
    const out = model.forward({ inputIds: ids, labels: ids });
    const loss = keep(out.loss!);
    const got = await loss.item();
    backward(loss);
    loss.release();
    const g = model.layers[0]!.inputLayernorm.grad!;
    expect(seen).toEqual(['f16->f16']);
    expect(g.dtype).toBe('f32');
    expect(Math.abs(got - ref.loss!)).toBeLessThan(2e-3 * ref.loss!);
    expect(got).not.toBe(Math.fround(ref.loss!));
    g.release();
    model.release();
  });
});
