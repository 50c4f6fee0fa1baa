/**
 * Builds a kernel's WGSL from its declaration (bindings, uniforms, workgroup size) and its body,
 * so each op writes only its arithmetic; dispatches it on tensors.
 */
import type { Tensor } from './tensor';
import { WGSL_TYPE, type DType } from './dtype';
import { device } from './runtime';

export type Access = 'read' | 'read_write';
export interface BindingDecl {
  name: string;
  dtype: DType;
  access?: Access;
  /** Declare as array<atomic<u32>> (float atomics are emulated with compare-exchange). */
  atomic?: boolean;
  /** Declare as array<vec4<T>> for 16-byte loads (the element count must be a multiple of 4). */
  vec4?: boolean;
}
export interface KernelDecl {
  name: string;
  bindings: BindingDecl[];
  /** Uniform scalars, in order; f32 values and integers are packed as 4 bytes each. */
  uniforms?: [string, 'u32' | 'i32' | 'f32'][];
  /** Workgroup size; the body sees `WG` (its x size) as a constant. */
  wg?: number | [number, number, number];
  /** Directives (`enable ...;`) placed before every declaration. */
  directives?: string;
  /** Extra WGSL (helper functions, workgroup arrays) placed before main. */
  header?: string;
  /**
   * Extra builtin parameters of `main`, e.g. `@builtin(subgroup_id) sg_id: u32` (needs the
   * `subgroups` feature and `enable subgroups;` in {@link directives}).
   */
  builtins?: string[];
  /** Body of `main`; `gid`, `lid`, `wid`, `nwg` (and any {@link builtins}) are in scope. */
  body: string;
}

export function kernelSource(k: KernelDecl): string {
  const wg = typeof k.wg === 'number' || k.wg === undefined ? [k.wg ?? 256, 1, 1] : k.wg;
  const f16 = k.bindings.some((b) => b.dtype === 'f16') || /\bf16\b/.test(k.body + (k.header ?? ''));
  const lines: string[] = [];
  if (f16) lines.push('enable f16;');
  if (k.directives) lines.push(k.directives);
  k.bindings.forEach((b, i) => {
    const elem = b.atomic ? `atomic<${WGSL_TYPE[b.dtype]}>` : b.vec4 ? `vec4<${WGSL_TYPE[b.dtype]}>` : WGSL_TYPE[b.dtype];
    lines.push(`@group(0) @binding(${i}) var<storage, ${b.access ?? 'read'}> ${b.name}: array<${elem}>;`);
  });
  if (k.uniforms?.length) {
    lines.push(`struct Uniforms { ${k.uniforms.map(([n, t]) => `${n}: ${t}`).join(', ')} };`);
    lines.push(`@group(0) @binding(${k.bindings.length}) var<uniform> u: Uniforms;`);
  }
  lines.push(`const WG: u32 = ${wg[0]}u;`);
  if (k.header) lines.push(k.header);
  lines.push(
    `@compute @workgroup_size(${wg.join(', ')})`,
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,',
    `        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>${(k.builtins ?? []).map((b) => `, ${b}`).join('')}) {`,
    k.body,
    '}',
  );
  return lines.join('\n');
}

/** Packs uniform values as the Uniforms struct lays them out (4 bytes each). */
export function packUniforms(decl: KernelDecl['uniforms'], values: number[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((values.length * 4) / 16) * 16));
  const dv = new DataView(buf);
  (decl ?? []).forEach(([, t], i) => {
    const v = values[i]!;
    if (t === 'f32') dv.setFloat32(i * 4, v, true);
    else if (t === 'i32') dv.setInt32(i * 4, v, true);
    else dv.setUint32(i * 4, v >>> 0, true);
  });
  return buf;
}

const sources = new WeakMap<KernelDecl, string>();
// Declarations written inline (a new object each call) are found by their parts: building their
// source again and hashing it for the pipeline cache on every dispatch cost the host more than
// the GPU work of many small kernels. Strings compare by content, which is cheap next to hashing.
interface Known {
  body: string;
  header: string | undefined;
  directives: string | undefined;
  src: string;
}
const byHead = new Map<string, Known[]>();

function sourceOf(k: KernelDecl): string {
  let src = sources.get(k);
  if (src) return src;
  const wg = typeof k.wg === 'number' || k.wg === undefined ? `${k.wg ?? 256}` : k.wg.join(',');
  const head = `${k.name}|${wg}|${k.bindings.map((b) => `${b.name}:${b.dtype}:${b.access ?? ''}:${b.atomic ? 1 : 0}${b.vec4 ? 1 : 0}`).join(',')}|${(k.uniforms ?? []).map((u) => u.join(':')).join(',')}|${(k.builtins ?? []).join(',')}`;
  let list = byHead.get(head);
  if (!list) byHead.set(head, (list = []));
  const hit = list.find((e) => e.body === k.body && e.header === k.header && e.directives === k.directives);
  src = hit ? hit.src : kernelSource(k);
  if (!hit) {
    // A kernel whose body embeds changing sizes would grow the list without bound: keep the last few.
    if (list.length >= 64) list.shift();
    list.push({ body: k.body, header: k.header, directives: k.directives, src });
  }
  sources.set(k, src);
  return src;
}

/** Dispatches a declared kernel over tensors bound in declaration order. */
export function launch(k: KernelDecl, tensors: Tensor[], workgroups: [number, number?, number?], uniforms: number[] = []): void {
  const src = sourceOf(k);
  const dev = tensors[0]?.dev ?? device();
  dev.dispatch({
    name: k.name,
    wgsl: src,
    bindings: tensors.map((t, i) => ({
      buffer: t.buffer,
      // The whole pooled buffer is bound (kernels bound-check with their own sizes and never use
      // arrayLength), so a bind group depends only on which buffers a dispatch uses and can be
      // reused from step to step while sizes change (a growing KV length, say).
      size: Math.min(t.buffer.size, dev.gpu.limits.maxStorageBufferBindingSize - (dev.gpu.limits.maxStorageBufferBindingSize % 4)),
      access: k.bindings[i]?.access ?? 'read',
    })),
    uniforms: k.uniforms?.length ? packUniforms(k.uniforms, uniforms) : undefined,
    workgroups,
  });
}

/**
 * Workgroups for n threads of size wg, folded into 2-D past the 65535 per-dimension limit.
 * Kernels recover the linear index with {@link LINEAR_INDEX}.
 */
export function grid1d(n: number, wg = 256): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** WGSL expression of the linear thread index for grid1d dispatches. */
export const LINEAR_INDEX = '(gid.x + gid.y * nwg.x * WG)';
