/**
 * Skinny products for decoding: x [M ≤ 8, K] times a weight stored as nn.Linear keeps it,
 * W [N, K] (transB). The tiled matmul would give each 64-column tile to one workgroup looping
 * over all of K, leaving most of the GPU idle at M = 1; here 32 lanes share each output column's
 * dot product and a workgroup covers 8 columns, so the weight is streamed once, in parallel.
 */
// a: [M, K], b: [N, K] -> c: [M, N]
import { empty, type Tensor } from '../tensor';
import { launch, grid1d } from '../wgsl';
import { WGSL_TYPE, type DType } from '../dtype';

export const GEMV_MAX_ROWS = 8;

const kernels = new Map<string, Parameters<typeof launch>[0]>();

function source(dtype: DType, M: number, vec: boolean): Parameters<typeof launch>[0] {
  const T = WGSL_TYPE[dtype];
  const rows = Array.from({ length: M }, (_, m) => m);
  // With K a multiple of 4 each lane loads 16 bytes at a time; a warp then reads 512 contiguous bytes.
  const W = vec ? 'vec4<f32>' : 'f32';
  const load = (x: string) => (vec ? `vec4<f32>(${x})` : `f32(${x})`);
  const dotp = (a: string, b: string) => (vec ? `dot(${a}, ${b})` : `${a} * ${b}`);
  const KK = vec ? '(u.K / 4u)' : 'u.K';
  return {
    name: `gemv${M}${vec ? 'v4' : ''}_${dtype}`,
    bindings: [
      { name: 'a', dtype, vec4: vec },
      { name: 'b', dtype, vec4: vec },
      { name: 'c', dtype, access: 'read_write' },
    ],
    uniforms: [
      ['N', 'u32'],
      ['K', 'u32'],
    ],
    header: `var<workgroup> part: array<f32, ${256 * M}>;`,
    body: `
  let lane = lid.x % 32u; let col = lid.x / 32u;
  let n = (wid.x + wid.y * nwg.x) * 8u + col;
  let kk = ${KK};
  ${rows.map((m) => `var s${m} = 0.0;`).join(' ')}
  if (n < u.N) {
    let ob = n * kk;
    for (var k = lane; k < kk; k += 32u) {
      let w: ${W} = ${load('b[ob + k]')};
      ${rows.map((m) => `s${m} += ${dotp(load(`a[${m}u * kk + k]`), 'w')};`).join('\n      ')}
    }
  }
  ${rows.map((m) => `part[${m}u * 256u + lid.x] = s${m};`).join('\n  ')}
  workgroupBarrier();
  for (var st = 16u; st > 0u; st >>= 1u) {
    if (lane < st) {
      ${rows.map((m) => `part[${m}u * 256u + lid.x] += part[${m}u * 256u + lid.x + st];`).join('\n      ')}
    }
    workgroupBarrier();
  }
  if (lane == 0u && n < u.N) {
    ${rows.map((m) => `c[${m}u * u.N + n] = ${T}(part[${m}u * 256u + lid.x]);`).join('\n    ')}
  }`,
  };
}

export function gemvTransB(a: Tensor, b: Tensor, M: number, N: number, K: number): Tensor {
  const c = empty([M, N], a.dtype, a.dev);
  const vec = K % 4 === 0;
  const key = `${a.dtype}${M}${vec}`;
  let k = kernels.get(key);
  if (!k) kernels.set(key, (k = source(a.dtype, M, vec)));
  launch(k, [a, b, c], grid1d(Math.ceil(N / 8), 1), [N, K]);
  return c;
}
