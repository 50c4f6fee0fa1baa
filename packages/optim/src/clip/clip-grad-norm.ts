/**
 * torch.nn.utils.clip_grad_norm_ on the GPU: the total L2 norm of every gradient and the clip
 * coefficient min(1, maxNorm / (norm + 1e-6)), both left on the GPU so the AdamW kernel can read
 * the coefficient as a gradient scale; nothing waits for the host unless the norm is read.
 *
 * Two passes: each gradient's sum of squares is reduced into a few partial sums (one per
 * workgroup, at its own offset of one shared buffer), then one workgroup adds the partials and
 * writes the norm and the coefficient.
 */
// grads: any shapes, f32; partials: [Σ workgroups]; norm: [] f32; coef: [1] f32
import { Tensor, ShapeError, ValueError } from '@q/core';
import { empty, launch, grid1d, type KernelDecl } from '@q/core/kernel';

const WG = 256;
/** Elements a thread sums before more workgroups are added; caps the partials per tensor. */
const PER_THREAD = 8;
const MAX_GROUPS = 512;

const SUMSQ_KERNEL: KernelDecl = {
  name: 'grad_sumsq',
  bindings: [
    { name: 'g', dtype: 'f32' },
    { name: 'partials', dtype: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['n', 'u32'],
    ['base', 'u32'],
    ['groups', 'u32'],
    ['scale', 'f32'],
  ],
  wg: WG,
  header: `var<workgroup> part: array<f32, ${WG}>;`,
  body: `
  var acc = 0.0;
  for (var i = wid.x * WG + lid.x; i < u.n; i += u.groups * WG) {
    let x = g[i] * u.scale;
    acc += x * x;
  }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partials[u.base + wid.x] = part[0]; }`,
};

const COMBINE_KERNEL: KernelDecl = {
  name: 'grad_norm_combine',
  bindings: [
    { name: 'partials', dtype: 'f32' },
    { name: 'norm', dtype: 'f32', access: 'read_write' },
    { name: 'coef', dtype: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['count', 'u32'],
    ['maxNorm', 'f32'],
  ],
  wg: WG,
  header: `var<workgroup> part: array<f32, ${WG}>;`,
  body: `
  var acc = 0.0;
  for (var i = lid.x; i < u.count; i += WG) { acc += partials[i]; }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let total = sqrt(part[0]);
    norm[0] = total;
    // torch: clamp(max_norm / (total + 1e-6), max=1). A NaN norm gives a NaN coefficient, as in torch.
    let c = u.maxNorm / (total + 1e-6);
    coef[0] = select(c, 1.0, c > 1.0);
  }`,
};

/** What {@link clipGradNorm} returns; release it once the step has been recorded. */
export class GradClip {
  constructor(
    /** Total L2 norm of the gradients (before clipping), a GPU scalar of shape []. */
    readonly norm: Tensor,
    /** min(1, maxNorm / (norm + 1e-6)) as a 1-element GPU tensor: pass it to `AdamW.step({ gradScale })`. */
    readonly coef: Tensor,
  ) {}

  /** Reads the norm (waits for the GPU): the value the trainer logs as `grad_norm`. */
  async read(): Promise<number> {
    return this.norm.item();
  }

  /**
   * Whether the norm is finite. A NaN or infinite norm means some gradient overflowed: skip the
   * optimizer step (and warn). Costs one 4-byte readback, the same one as {@link read}.
   */
  async isFinite(): Promise<boolean> {
    return Number.isFinite(await this.read());
  }

  release(): void {
    this.norm.release();
    this.coef.release();
  }
}

export interface ClipGradNormOptions {
  /** Multiplies the gradients before the norm is taken (loss normalisation folded into the step). Default 1. */
  gradScale?: number;
}

/**
 * Total L2 norm of the parameters' gradients and the coefficient that clips it to `maxNorm`
 * (torch.nn.utils.clip_grad_norm_ with norm_type 2). Parameters without a gradient are skipped.
 *
 * NOTE: unlike torch, the gradients are not scaled here: the coefficient is applied inside the
 * AdamW update (`opt.step({ gradScale: clip.coef })`), which saves a pass over every gradient.
 * Use {@link scaleGradsInPlace} where scaled gradients themselves are needed.
 *
 * @example
 * ```ts
 * const clip = clipGradNorm(opt.parameters(), 1.0);
 * if (!(await clip.isFinite())) warn('non-finite grad norm, skipping step');
 * else opt.step({ lr, gradScale: clip.coef });
 * ```
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, opts: ClipGradNormOptions = {}): GradClip {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new ValueError(`clipGradNorm: maxNorm must be a finite number > 0, got ${maxNorm}`);
  const scale = opts.gradScale ?? 1;
  const grads: Tensor[] = [];
  for (const p of params) {
    if (!p.grad) continue;
    if (p.grad.dtype !== 'f32') throw new ShapeError(`clipGradNorm: gradient ${p.grad} is ${p.grad.dtype}; f32 expected`);
    if (p.grad.size > 0) grads.push(p.grad);
  }
  const groups = grads.map((g) => Math.min(MAX_GROUPS, Math.ceil(g.size / (WG * PER_THREAD))));
  const count = groups.reduce((a, b) => a + b, 0);
  const dev = grads[0]?.dev;
  const partials = empty([Math.max(count, 1)], 'f32', dev);
  let base = 0;
  grads.forEach((g, i) => {
    launch(SUMSQ_KERNEL, [g, partials], [groups[i]!], [g.size, base, groups[i]!, scale]);
    base += groups[i]!;
  });
  const norm = empty([], 'f32', partials.dev);
  const coef = empty([1], 'f32', partials.dev);
  launch(COMBINE_KERNEL, [partials, norm, coef], [1], [count, maxNorm]);
  partials.release();
  return new GradClip(norm, coef);
}

const SCALE_KERNEL: KernelDecl = {
  name: 'grad_scale_inplace',
  bindings: [
    { name: 'g', dtype: 'f32', access: 'read_write' },
    { name: 'coef', dtype: 'f32' },
  ],
  uniforms: [['n', 'u32']],
  body: `let i = gid.x + gid.y * nwg.x * WG; if (i >= u.n) { return; }\ng[i] = g[i] * coef[0];`,
};

/** g ← g · coef[0] for every gradient (torch's in-place clip), with the coefficient read on the GPU. */
export function scaleGradsInPlace(params: Iterable<Tensor>, coef: Tensor): void {
  if (coef.size !== 1 || coef.dtype !== 'f32') throw new ShapeError(`scaleGradsInPlace: coef must be one f32 element, got ${coef}`);
  for (const p of params) {
    if (p.grad && p.grad.size > 0) launch(SCALE_KERNEL, [p.grad, coef], grid1d(p.grad.size), [p.grad.size]);
  }
}
