/**
 * Browser smoke entry, bundled by browser.test.ts with esbuild (platform browser): runs a matmul
 * forward and backward on navigator.gpu and hands the numbers back to the test.
 */
// a: [M, K], b: [K, N], w: [M, N]; loss = sum(matmul(a, b) * w), so dA = w·bᵀ and dB = aᵀ·w.
import { getDevice, tensor, matmul, mul, sum, backward, tidy, keep } from '../../src';

export interface SmokeInput {
  M: number;
  K: number;
  N: number;
  a: number[];
  b: number[];
  w: number[];
}

export interface SmokeOutput {
  runtime: string;
  adapter: { vendor: string; architecture: string; description: string };
  features: string[];
  c: number[];
  loss: number;
  dA: number[];
  dB: number[];
}

async function smoke({ M, K, N, a: ha, b: hb, w: hw }: SmokeInput): Promise<SmokeOutput> {
  const dev = await getDevice();
  const a = keep(tensor(ha, [M, K], { requiresGrad: true }));
  const b = keep(tensor(hb, [K, N], { requiresGrad: true }));
  const w = keep(tensor(hw, [M, N]));
  const { c, loss } = tidy(() => {
    const c = matmul(a, b);
    return { c, loss: sum(mul(c, w)) };
  });
  backward(loss);
  const out: SmokeOutput = {
    runtime: dev.info.runtime,
    adapter: { vendor: dev.info.vendor, architecture: dev.info.architecture, description: dev.info.description },
    features: dev.info.features,
    c: await c.toArray(),
    loss: await loss.item(),
    dA: await a.grad!.toArray(),
    dB: await b.grad!.toArray(),
  };
  for (const t of [a.grad!, b.grad!, a, b, w, c, loss]) t.release();
  dev.dispose();
  return out;
}

(globalThis as { qSmoke?: typeof smoke }).qSmoke = smoke;
