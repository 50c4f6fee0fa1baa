/**
 * Seeded dropout: the keep mask is a hash of (seed, element index), so the backward pass and the
 * CPU reference regenerate the same mask without storing it.
 */
// x: [...] -> [...]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { ValueError } from '../errors';

interface DropoutAttrs {
  p: number;
  seed: number;
}

const HASH = `fn pcg(x: u32) -> u32 {
  let s = x * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}`;

function pcg(x: number): number {
  const s = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** Whether element i is kept: exactly the GPU's integer test. */
export function dropoutKeeps(i: number, p: number, seed: number): boolean {
  return pcg((i ^ pcg(seed >>> 0)) >>> 0) >= threshold(p);
}

function threshold(p: number): number {
  return Math.min(4294967295, Math.floor(p * 4294967296));
}

export const dropoutOp = /* @__PURE__ */ defineOp<DropoutAttrs>({
  name: 'dropout',
  cpu: ([x]: CpuTensor[], { p, seed }) => ({
    shape: x!.shape,
    data: x!.data.map((v, i) => (dropoutKeeps(i, p, seed) ? v / (1 - p) : 0)),
  }),
  gpu: ([x], { p, seed }) => {
    const y = empty(x!.shape, x!.dtype, x!.dev);
    const n = y.size;
    launch(
      {
        name: 'dropout',
        bindings: [
          { name: 'x', dtype: x!.dtype },
          { name: 'y', dtype: x!.dtype, access: 'read_write' },
        ],
        uniforms: [
          ['n', 'u32'],
          ['seedHash', 'u32'],
          ['thresh', 'u32'],
          ['scale', 'f32'],
        ],
        header: HASH,
        body: `let i = ${LINEAR_INDEX}; if (i >= u.n) { return; }
let keep = pcg(i ^ u.seedHash) >= u.thresh;
y[i] = select(${WGSL_TYPE[x!.dtype]}(0.0), ${WGSL_TYPE[x!.dtype]}(f32(x[i]) * u.scale), keep);`,
      },
      [x!, y],
      grid1d(n),
      [n, pcg(seed >>> 0), threshold(p), 1 / (1 - p)],
    );
    return y;
  },
  save: () => [],
  // Same mask, same scale: dropout is linear in x.
  backward: (gy, { attrs }): Tensor[] => [dropoutOp([gy], attrs)],
});

/**
 * Zeroes each element with probability p and scales the rest by 1/(1−p); p = 0 is the identity.
 *
 * @example
 * ```ts
 * const h = dropout(x, 0.1, step * 1000 + layer);
 * ```
 */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new ValueError(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x.reshape([...x.shape]);
  return dropoutOp([x], { p, seed });
}
