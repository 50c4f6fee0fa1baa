// A tree-shaken browser entry: only these names from @q/core, and backward() must still work
// (nothing may depend on an op having registered itself at import time).
// a: [3, 4] = randn, b: [4, 2]; loss = sum(a·b), so dA[i][k] = Σn b[k][n].
import { getDevice, backward, matmul, randn, sum, tensor, keep } from '@q/core';

async function main(): Promise<{ runtime: string; dA: number[]; want: number[] }> {
  const dev = await getDevice();
  const bData = [0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2];
  const a = keep(randn([3, 4], 7, { requiresGrad: true }));
  const b = keep(tensor(bData, [4, 2]));
  const loss = keep(sum(matmul(a, b)));
  backward(loss);
  const dA = await a.grad!.toArray();
  const want = Array.from({ length: 12 }, (_, i) => bData[(i % 4) * 2]! + bData[(i % 4) * 2 + 1]!);
  const runtime = dev.info.runtime;
  dev.dispose();
  return { runtime, dA, want };
}

(globalThis as { qResult?: Promise<unknown> }).qResult = main().catch((e: Error) => ({ error: e.message }));
