// backward() follows PyTorch's rules (issue #10, item 7): an implicit gradient only for a scalar
// output, a graph differentiated only once, an error for an output that needs no gradient; each
// with PyTorch's message. Gradients are checked by value against the hand-derived d(sum(x*w))/dw = x.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backward, getDevice, keep, mul, sum, tensor, tidy, QError, type QDevice } from '../src';

let dev: QDevice;
beforeAll(async () => {
  dev = await getDevice();
});
afterAll(() => dev.dispose());

describe('backward() rules', () => {
  it('a non-scalar output needs a seed: "grad can be implicitly created only for scalar outputs"', async () => {
    const w = keep(tensor([1, 2, 3], [3], { requiresGrad: true }));
    const y = keep(tidy(() => mul(w, w)));
    expect(() => backward(y)).toThrow(/grad can be implicitly created only for scalar outputs/);
    expect(() => backward(y)).toThrow(QError);
    // With a seed of the output's shape it runs: d(w*w)/dw · seed = 2w · 1.
    backward(y, keep(tensor([1, 1, 1], [3])));
    expect([...(await w.grad!.read())]).toEqual([2, 4, 6]);
    w.release();
    y.release();
  });

  it('a second backward through the same graph fails: "Trying to backward through the graph a second time"', async () => {
    const w = keep(tensor([1, 2, 3], [3], { requiresGrad: true }));
    const x = keep(tensor([4, 5, 6], [3]));
    const loss = keep(tidy(() => sum(mul(x, w))));
    backward(loss);
    expect([...(await w.grad!.read())]).toEqual([4, 5, 6]);
    expect(() => backward(loss)).toThrow(/Trying to backward through the graph a second time/);
    // The failed call changed nothing.
    expect([...(await w.grad!.read())]).toEqual([4, 5, 6]);
    // A fresh forward accumulates as PyTorch does.
    const again = keep(tidy(() => sum(mul(x, w))));
    backward(again);
    expect([...(await w.grad!.read())]).toEqual([8, 10, 12]);
    for (const t of [w, x, loss, again]) t.release();
  });

  it('a graph sharing an intermediate with one already differentiated fails too', () => {
    const w = keep(tensor([1, 2], [2], { requiresGrad: true }));
    const h = keep(tidy(() => mul(w, w)));
    const a = keep(tidy(() => sum(h)));
    const b = keep(tidy(() => sum(mul(h, h))));
    backward(a);
    expect(() => backward(b)).toThrow(/backward through the graph a second time/);
    for (const t of [w, h, a, b]) t.release();
  });

  it('an output without a grad_fn is refused', () => {
    const x = keep(tensor([1, 2], [2]));
    const s = keep(tidy(() => sum(x)));
    expect(() => backward(s)).toThrow(/does not require grad and does not have a grad_fn/);
    x.release();
    s.release();
  });
});
