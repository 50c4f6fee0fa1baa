/**
 * Rotary position embeddings in Hugging Face's rotate_half layout: the first and second halves of
 * each head are the two coordinates of a rotation. out = x·cos + rotate_half(x)·sin.
 */
// x: [B, T, H, Dh], cos/sin: [P, Dh/2] (f32 tables), positions: [B, T] i32 -> [B, T, H, Dh]
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, grid1d, LINEAR_INDEX } from '../wgsl';
import { WGSL_TYPE } from '../dtype';
import { ShapeError } from '../errors';
import { tensor } from '../create';
import { keep } from '../scope';
import type { QDevice } from '../runtime';

interface RopeAttrs {
  /** Rotate by −θ: the transpose of the rotation, which is its backward. */
  inverse: boolean;
}

function ropeGpu(x: Tensor, cos: Tensor, sin: Tensor, pos: Tensor, inverse: boolean): Tensor {
  if (x.rank !== 4) throw new ShapeError(`rope: x must be [B, T, H, Dh], got [${x.shape}]`);
  const [B, T, H, Dh] = x.shape as [number, number, number, number];
  const half = Dh / 2;
  if (cos.shape[1] !== half) throw new ShapeError(`rope: tables have ${cos.shape[1]} columns, head dim ${Dh} needs ${half}`);
  if (pos.size !== B * T) throw new ShapeError(`rope: positions [${pos.shape}] do not match [${B}, ${T}]`);
  const P = cos.shape[0]!;
  const y = empty(x.shape, x.dtype, x.dev);
  const n = B * T * H * half;
  const T_ = WGSL_TYPE[x.dtype];
  launch(
    {
      name: 'rope',
      bindings: [
        { name: 'x', dtype: x.dtype },
        { name: 'cs', dtype: 'f32' },
        { name: 'sn', dtype: 'f32' },
        { name: 'pos', dtype: pos.dtype },
        { name: 'y', dtype: x.dtype, access: 'read_write' },
      ],
      body: `let i = ${LINEAR_INDEX}; if (i >= ${n}u) { return; }
let j = i % ${half}u; let bth = i / ${half}u; let bt = bth / ${H}u;
let p = min(u32(pos[bt]), ${P - 1}u);
let c = cs[p * ${half}u + j]; let s = ${inverse ? '-' : ''}sn[p * ${half}u + j];
let o = bth * ${Dh}u + j;
let x1 = f32(x[o]); let x2 = f32(x[o + ${half}u]);
y[o] = ${T_}(x1 * c - x2 * s);
y[o + ${half}u] = ${T_}(x2 * c + x1 * s);`,
    },
    [x, cos, sin, pos, y],
    grid1d(n),
  );
  return y;
}

function ropeCpu([x, cos, sin, pos]: CpuTensor[], { inverse }: RopeAttrs): CpuTensor {
  const [B, T, H, Dh] = x!.shape as [number, number, number, number];
  const half = Dh / 2;
  const out = new Float64Array(x!.data.length);
  for (let bt = 0; bt < B * T; bt++) {
    const p = pos!.data[bt]!;
    for (let h = 0; h < H; h++)
      for (let j = 0; j < half; j++) {
        const c = cos!.data[p * half + j]!;
        const s = (inverse ? -1 : 1) * sin!.data[p * half + j]!;
        const o = (bt * H + h) * Dh + j;
        const x1 = x!.data[o]!;
        const x2 = x!.data[o + half]!;
        out[o] = x1 * c - x2 * s;
        out[o + half] = x2 * c + x1 * s;
      }
  }
  return { shape: x!.shape, data: out };
}

export const ropeOp = /* @__PURE__ */ defineOp<RopeAttrs>({
  name: 'rope',
  cpu: ropeCpu,
  gpu: ([x, c, s, p], a) => ropeGpu(x!, c!, s!, p!, a.inverse),
  save: ([, c, s, p]) => [c!, s!, p!],
  // The rotation is orthogonal: its gradient is the rotation by −θ.
  backward: (gy, { saved: [c, s, p], attrs }) => [rope(gy, c!, s!, p!, !attrs.inverse), null, null, null],
});

export function rope(x: Tensor, cos: Tensor, sin: Tensor, positions: Tensor, inverse = false): Tensor {
  return ropeOp([x, cos, sin, positions], { inverse });
}

/**
 * cos/sin tables as transformers computes them in float32: inv_freq (rounded to f32, as torch
 * stores it) times the position, rounded to f32, then cos and sin. Pass the inverse frequencies
 * (with any RoPE scaling already applied) or a base θ for the plain 1/θ^(2i/d).
 */
export function ropeTables(
  headDim: number,
  maxPositions: number,
  thetaOrInvFreq: number | ArrayLike<number>,
): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    inv[i] = typeof thetaOrInvFreq === 'number' ? 1 / thetaOrInvFreq ** ((2 * i) / headDim) : thetaOrInvFreq[i]!;
  }
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++)
    for (let i = 0; i < half; i++) {
      const a = Math.fround(p * inv[i]!);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  return { cos, sin };
}

/** Rotary tables on the GPU, owned by the model that made them (release() frees both). */
export class RotaryTables {
  readonly cos: Tensor;
  readonly sin: Tensor;
  constructor(
    readonly headDim: number,
    readonly maxPositions: number,
    thetaOrInvFreq: number | ArrayLike<number>,
    dev?: QDevice,
  ) {
    const t = ropeTables(headDim, maxPositions, thetaOrInvFreq);
    this.cos = keep(tensor(t.cos, [maxPositions, headDim / 2], { dev }));
    this.sin = keep(tensor(t.sin, [maxPositions, headDim / 2], { dev }));
  }
  /** x: [B, T, H, Dh], positions: [B, T] i32. */
  apply(x: Tensor, positions: Tensor): Tensor {
    return rope(x, this.cos, this.sin, positions);
  }
  release(): void {
    this.cos.release();
    this.sin.release();
  }
}
