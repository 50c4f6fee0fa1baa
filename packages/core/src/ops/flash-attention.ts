/**
 * Flash attention (FlashAttention-2's schedule): softmax(scale·Q·Kᵀ + mask)·V without the S×S
 * score matrix in memory. Forward keeps, per query row, a running max, a running sum and the
 * output accumulator while it walks key tiles (online softmax), and saves only the row's
 * log-sum-exp. Backward recomputes P tile by tile from it: one kernel per query row for dQ (it also
 * writes Δ = rowsum(dO∘O)), one per key row for dK and dV, summed over the query heads of a KV
 * group (GQA) without atomics.
 *
 * Masks: causal (key s visible to query t when s ≤ t + S − T), padding (mask[b, s] == 0 hides key
 * s), and segments for padding-free packing (segment[b, t] ≠ segment[b, s] hides key s: several
 * samples share one row without attending to each other). A query that sees no key outputs zeros.
 */
// q: [B, T, Hq, D], k/v: [B, S, Hkv, D], mask: [B, S] i32 (1 = attend), segment: [B, S] i32 (S = T)
// out: [B, T, Hq, D]; lse (saved): [B, Hq, T] f32; D a multiple of 4
import { defineOp, type CpuTensor } from '../op';
import { Tensor, empty } from '../tensor';
import { launch, type KernelDecl } from '../wgsl';
import { WGSL_TYPE, type DType } from '../dtype';
import { ShapeError } from '../errors';
import { sum } from './reduce';
import { cast } from './cast';

export interface FlashAttentionAttrs {
  scale: number;
  causal: boolean;
  hasMask: boolean;
  hasSegments: boolean;
}

interface Geo {
  B: number;
  T: number;
  S: number;
  Hq: number;
  Hkv: number;
  D: number;
}

function geometry(q: readonly number[], k: readonly number[], v: readonly number[], extra: (readonly number[])[]): Geo {
  if (q.length !== 4 || k.length !== 4) throw new ShapeError(`flashAttention: q [${q}] and k [${k}] must be [B, T, H, D]`);
  const [B, T, Hq, D] = q as [number, number, number, number];
  const [Bk, S, Hkv, Dk] = k as [number, number, number, number];
  if (Bk !== B || Dk !== D || Hq % Hkv !== 0) throw new ShapeError(`flashAttention: q [${q}] and k [${k}] do not fit (batch, head dim, heads divisible)`);
  if (v.join() !== k.join()) throw new ShapeError(`flashAttention: v [${v}] must match k [${k}]`);
  if (D % 4 !== 0) throw new ShapeError(`flashAttention: head dim ${D} must be a multiple of 4`);
  if (S < T) throw new ShapeError(`flashAttention: ${S} keys for ${T} queries (S ≥ T expected)`);
  for (const m of extra) if (m.length !== 2 || m[0] !== B || m[1] !== S) throw new ShapeError(`flashAttention: mask/segments [${m}] must be [${B}, ${S}]`);
  return { B, T, S, Hq, Hkv, D };
}

const NEG = -1e30;
/** Rows (queries or keys) per workgroup, one per thread, and keys (or queries) per shared tile. */
// 32 rows (one warp on NVIDIA) keep enough workgroups in flight at the seed's shape: B=2, Hkv=2
// leaves dK/dV with few (b, head, block) triples otherwise.
const BR = 32;
const BC = 16;
/** Tag of a key that nobody may attend (padding or past the end). */
const DEAD = -2147483647;

const UNIFORMS: [string, 'u32' | 'i32' | 'f32'][] = [
  ['T', 'u32'],
  ['S', 'u32'],
  ['offset', 'i32'],
  ['scale', 'f32'],
];
const uvals = (g: Geo, a: FlashAttentionAttrs) => [g.T, g.S, g.S - g.T, a.scale];

const rep = (n: number, f: (i: number) => string, sep = '\n') => Array.from({ length: n }, (_, i) => f(i)).join(sep);
/** vec4<f32> of 4 consecutive elements of a (possibly f16) array. */
const ld4 = (arr: string, at: string) => `vec4<f32>(f32(${arr}[${at}]), f32(${arr}[${at} + 1u]), f32(${arr}[${at} + 2u]), f32(${arr}[${at} + 3u]))`;
const st4 = (arr: string, at: string, val: string, T: string) => rep(4, (c) => `${arr}[${at} + ${c}u] = ${T}(${val}[${c}]);`, ' ');

/** Tag of key s in row b: its segment (0 without segments), DEAD when masked or out of range. */
function keyTag(a: FlashAttentionAttrs): string {
  return `fn key_tag(b: u32, s: u32) -> i32 {
  if (s >= u.S) { return ${DEAD}; }
  ${a.hasMask ? `if (m[b * u.S + s] == 0) { return ${DEAD}; }` : ''}
  return ${a.hasSegments ? 'sg[b * u.S + s]' : '0'};
}`;
}

const kernels = new Map<string, KernelDecl>();
function cached(key: string, make: () => KernelDecl): KernelDecl {
  let k = kernels.get(key);
  if (!k) kernels.set(key, (k = make()));
  return k;
}

function forwardKernel(g: Geo, a: FlashAttentionAttrs, dt: DType): KernelDecl {
  const D4 = g.D / 4;
  const G = g.Hq / g.Hkv;
  const T = WGSL_TYPE[dt];
  return cached(`fwd|${dt}|${g.D}|${g.Hq}|${g.Hkv}|${a.causal}|${a.hasMask}|${a.hasSegments}`, () => ({
    name: 'flash_attn_fwd',
    bindings: [
      { name: 'q', dtype: dt },
      { name: 'k', dtype: dt },
      { name: 'v', dtype: dt },
      { name: 'm', dtype: 'i32' },
      { name: 'sg', dtype: 'i32' },
      { name: 'o', dtype: dt, access: 'read_write' },
      { name: 'lse', dtype: 'f32', access: 'read_write' },
    ],
    uniforms: UNIFORMS,
    wg: BR,
    header: `var<workgroup> Ks: array<vec4<f32>, ${BC * D4}>;
var<workgroup> Vs: array<vec4<f32>, ${BC * D4}>;
var<workgroup> Tg: array<i32, ${BC}>;
${keyTag(a)}`,
    body: `
  let b = wid.y / ${g.Hq}u; let h = wid.y % ${g.Hq}u; let hk = h / ${G}u;
  let t = wid.x * ${BR}u + lid.x; let live = t < u.T;
  let tc = min(t, u.T - 1u);
  let tq = i32(tc) + u.offset;
  let qo = ((b * u.T + tc) * ${g.Hq}u + h) * ${g.D}u;
  var qr: array<vec4<f32>, ${D4}>;
  var acc: array<vec4<f32>, ${D4}>;
  ${rep(D4, (i) => `qr[${i}] = ${ld4('q', `qo + ${i * 4}u`)} * u.scale; acc[${i}] = vec4<f32>(0.0);`, '\n  ')}
  let myTag = ${a.hasSegments ? 'sg[b * u.S + tc]' : '0'};
  var mx = ${NEG}; var l = 0.0;
  ${a.causal ? `let sEnd = min(u.S, u32(max(0, i32(wid.x * ${BR}u + ${BR - 1}u) + u.offset + 1)));` : 'let sEnd = u.S;'}
  for (var s0 = 0u; s0 < sEnd; s0 += ${BC}u) {
    workgroupBarrier();
    for (var e = lid.x; e < ${BC * D4}u; e += ${BR}u) {
      let s = s0 + e / ${D4}u; let i = e % ${D4}u;
      var kv = vec4<f32>(0.0); var vv = vec4<f32>(0.0);
      if (s < u.S) { let ko = ((b * u.S + s) * ${g.Hkv}u + hk) * ${g.D}u + i * 4u; kv = ${ld4('k', 'ko')}; vv = ${ld4('v', 'ko')}; }
      Ks[e] = kv; Vs[e] = vv;
    }
    if (lid.x < ${BC}u) { Tg[lid.x] = key_tag(b, s0 + lid.x); }
    workgroupBarrier();
    var sc: array<f32, ${BC}>;
    var mt = mx;
    ${rep(BC, (j) => `{
      let ok = live && Tg[${j}] != ${DEAD} && Tg[${j}] == myTag${a.causal ? ` && i32(s0 + ${j}u) <= tq` : ''};
      var d = 0.0;
      ${rep(D4, (i) => `d += dot(qr[${i}], Ks[${j * D4 + i}]);`, ' ')}
      sc[${j}] = select(${NEG}, d, ok); mt = max(mt, sc[${j}]);
    }`, '\n    ')}
    let c = exp(mx - mt);
    l = l * c;
    ${rep(D4, (i) => `acc[${i}] = acc[${i}] * c;`, ' ')}
    ${rep(BC, (j) => `{
      let p = select(0.0, exp(sc[${j}] - mt), sc[${j}] > ${NEG / 2});
      l += p;
      ${rep(D4, (i) => `acc[${i}] += p * Vs[${j * D4 + i}];`, ' ')}
    }`, '\n    ')}
    mx = mt;
  }
  if (live) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    ${rep(D4, (i) => `{ let r = acc[${i}] * inv; ${st4('o', `qo + ${i * 4}u`, 'r', T)} }`, '\n    ')}
    lse[(b * ${g.Hq}u + h) * u.T + t] = select(${NEG}, mx + log(l), l > 0.0);
  }`,
  }));
}

function dqKernel(g: Geo, a: FlashAttentionAttrs, dt: DType, gdt: DType): KernelDecl {
  const D4 = g.D / 4;
  const G = g.Hq / g.Hkv;
  const T = WGSL_TYPE[dt];
  return cached(`dq|${dt}|${gdt}|${g.D}|${g.Hq}|${g.Hkv}|${a.causal}|${a.hasMask}|${a.hasSegments}`, () => ({
    name: 'flash_attn_dq',
    bindings: [
      { name: 'q', dtype: dt },
      { name: 'k', dtype: dt },
      { name: 'v', dtype: dt },
      { name: 'm', dtype: 'i32' },
      { name: 'sg', dtype: 'i32' },
      { name: 'o', dtype: dt },
      { name: 'lse', dtype: 'f32' },
      { name: 'go', dtype: gdt },
      { name: 'dq', dtype: dt, access: 'read_write' },
      { name: 'delta', dtype: 'f32', access: 'read_write' },
    ],
    uniforms: UNIFORMS,
    wg: BR,
    header: `var<workgroup> Ks: array<vec4<f32>, ${BC * D4}>;
var<workgroup> Vs: array<vec4<f32>, ${BC * D4}>;
var<workgroup> Tg: array<i32, ${BC}>;
${keyTag(a)}`,
    body: `
  let b = wid.y / ${g.Hq}u; let h = wid.y % ${g.Hq}u; let hk = h / ${G}u;
  let t = wid.x * ${BR}u + lid.x; let live = t < u.T;
  let tc = min(t, u.T - 1u);
  let tq = i32(tc) + u.offset;
  let qo = ((b * u.T + tc) * ${g.Hq}u + h) * ${g.D}u;
  var qr: array<vec4<f32>, ${D4}>;
  var gr: array<vec4<f32>, ${D4}>;
  var dqa: array<vec4<f32>, ${D4}>;
  var dl = 0.0;
  ${rep(D4, (i) => `qr[${i}] = ${ld4('q', `qo + ${i * 4}u`)} * u.scale; gr[${i}] = ${ld4('go', `qo + ${i * 4}u`)}; dqa[${i}] = vec4<f32>(0.0); dl += dot(gr[${i}], ${ld4('o', `qo + ${i * 4}u`)});`, '\n  ')}
  let li = (b * ${g.Hq}u + h) * u.T + tc;
  let lrow = lse[li];
  let rowLive = live && lrow > ${NEG / 2};
  if (live) { delta[li] = dl; }
  let myTag = ${a.hasSegments ? 'sg[b * u.S + tc]' : '0'};
  ${a.causal ? `let sEnd = min(u.S, u32(max(0, i32(wid.x * ${BR}u + ${BR - 1}u) + u.offset + 1)));` : 'let sEnd = u.S;'}
  for (var s0 = 0u; s0 < sEnd; s0 += ${BC}u) {
    workgroupBarrier();
    for (var e = lid.x; e < ${BC * D4}u; e += ${BR}u) {
      let s = s0 + e / ${D4}u; let i = e % ${D4}u;
      var kv = vec4<f32>(0.0); var vv = vec4<f32>(0.0);
      if (s < u.S) { let ko = ((b * u.S + s) * ${g.Hkv}u + hk) * ${g.D}u + i * 4u; kv = ${ld4('k', 'ko')}; vv = ${ld4('v', 'ko')}; }
      Ks[e] = kv; Vs[e] = vv;
    }
    if (lid.x < ${BC}u) { Tg[lid.x] = key_tag(b, s0 + lid.x); }
    workgroupBarrier();
    ${rep(BC, (j) => `{
      let ok = rowLive && Tg[${j}] != ${DEAD} && Tg[${j}] == myTag${a.causal ? ` && i32(s0 + ${j}u) <= tq` : ''};
      var d = 0.0; var dp = 0.0;
      ${rep(D4, (i) => `d += dot(qr[${i}], Ks[${j * D4 + i}]); dp += dot(gr[${i}], Vs[${j * D4 + i}]);`, ' ')}
      let ds = select(0.0, exp(d - lrow) * (dp - dl), ok);
      ${rep(D4, (i) => `dqa[${i}] += ds * Ks[${j * D4 + i}];`, ' ')}
    }`, '\n    ')}
  }
  if (live) {
    ${rep(D4, (i) => `{ let r = dqa[${i}] * u.scale; ${st4('dq', `qo + ${i * 4}u`, 'r', T)} }`, '\n    ')}
  }`,
  }));
}

/**
 * dK, dV for one query head of a KV group per workgroup layer z (output layer z of [G, B, S, Hkv, D]
 * partials, summed afterwards): G times the workgroups, and no atomics.
 */
function dkvKernel(g: Geo, a: FlashAttentionAttrs, dt: DType, gdt: DType, odt: DType): KernelDecl {
  const D4 = g.D / 4;
  const G = g.Hq / g.Hkv;
  const T = WGSL_TYPE[odt];
  return cached(`dkv|${dt}|${gdt}|${odt}|${g.D}|${g.Hq}|${g.Hkv}|${a.causal}|${a.hasMask}|${a.hasSegments}`, () => ({
    name: 'flash_attn_dkv',
    bindings: [
      { name: 'q', dtype: dt },
      { name: 'k', dtype: dt },
      { name: 'v', dtype: dt },
      { name: 'm', dtype: 'i32' },
      { name: 'sg', dtype: 'i32' },
      { name: 'lse', dtype: 'f32' },
      { name: 'delta', dtype: 'f32' },
      { name: 'go', dtype: gdt },
      { name: 'dk', dtype: odt, access: 'read_write' },
      { name: 'dv', dtype: odt, access: 'read_write' },
    ],
    uniforms: UNIFORMS,
    wg: BR,
    header: `var<workgroup> Qs: array<vec4<f32>, ${BC * D4}>;
var<workgroup> Gs: array<vec4<f32>, ${BC * D4}>;
var<workgroup> Ls: array<f32, ${BC}>;
var<workgroup> Ds: array<f32, ${BC}>;
var<workgroup> Qt: array<i32, ${BC}>;
${keyTag(a)}`,
    body: `
  let b = wid.y / ${g.Hkv}u; let hk = wid.y % ${g.Hkv}u;
  let s = wid.x * ${BR}u + lid.x; let live = s < u.S;
  let sc = min(s, u.S - 1u);
  let ko = ((b * u.S + sc) * ${g.Hkv}u + hk) * ${g.D}u;
  // Partial z of [G, B, S, Hkv, D]; nwg.y = B·Hkv (batch is not baked into the kernel).
  let po = wid.z * nwg.y * ${g.D}u * u.S + ko;
  let tag = select(${DEAD}, key_tag(b, sc), live);
  var kr: array<vec4<f32>, ${D4}>;
  var vr: array<vec4<f32>, ${D4}>;
  var dka: array<vec4<f32>, ${D4}>;
  var dva: array<vec4<f32>, ${D4}>;
  ${rep(D4, (i) => `kr[${i}] = ${ld4('k', `ko + ${i * 4}u`)} * u.scale; vr[${i}] = ${ld4('v', `ko + ${i * 4}u`)}; dka[${i}] = vec4<f32>(0.0); dva[${i}] = vec4<f32>(0.0);`, '\n  ')}
  // Queries that can see this workgroup's first key: t + offset ≥ s.
  ${a.causal ? `let tStart = u32(max(0, i32(wid.x * ${BR}u) - u.offset));` : 'let tStart = 0u;'}
  {
    let h = hk * ${G}u + wid.z;
    for (var t0 = tStart; t0 < u.T; t0 += ${BC}u) {
      workgroupBarrier();
      for (var e = lid.x; e < ${BC * D4}u; e += ${BR}u) {
        let t = t0 + e / ${D4}u; let i = e % ${D4}u;
        var qv = vec4<f32>(0.0); var gv = vec4<f32>(0.0);
        if (t < u.T) { let qo = ((b * u.T + t) * ${g.Hq}u + h) * ${g.D}u + i * 4u; qv = ${ld4('q', 'qo')}; gv = ${ld4('go', 'qo')}; }
        Qs[e] = qv; Gs[e] = gv;
      }
      if (lid.x < ${BC}u) {
        let t = t0 + lid.x;
        var lv = ${NEG}; var dv0 = 0.0; var qt = ${DEAD};
        if (t < u.T) { let li = (b * ${g.Hq}u + h) * u.T + t; lv = lse[li]; dv0 = delta[li]; qt = ${a.hasSegments ? 'sg[b * u.S + t]' : '0'}; }
        Ls[lid.x] = lv; Ds[lid.x] = dv0; Qt[lid.x] = qt;
      }
      workgroupBarrier();
      ${rep(BC, (jj) => `{
        let ok = tag != ${DEAD} && Ls[${jj}] > ${NEG / 2} && Qt[${jj}] == tag${a.causal ? ` && i32(s) <= i32(t0 + ${jj}u) + u.offset` : ''};
        var d = 0.0; var dp = 0.0;
        ${rep(D4, (i) => `d += dot(Qs[${jj * D4 + i}], kr[${i}]); dp += dot(Gs[${jj * D4 + i}], vr[${i}]);`, ' ')}
        let p = select(0.0, exp(d - Ls[${jj}]), ok);
        let ds = p * (dp - Ds[${jj}]);
        ${rep(D4, (i) => `dva[${i}] += p * Gs[${jj * D4 + i}]; dka[${i}] += ds * Qs[${jj * D4 + i}];`, ' ')}
      }`, '\n      ')}
    }
  }
  if (live) {
    ${rep(D4, (i) => `{ let r = dka[${i}] * u.scale; ${st4('dk', `po + ${i * 4}u`, 'r', T)} let w = dva[${i}]; ${st4('dv', `po + ${i * 4}u`, 'w', T)} }`, '\n    ')}
  }`,
  }));
}

/** The optional i32 inputs in kernel order (a dummy binding where absent). */
function extras(inputs: Tensor[], a: FlashAttentionAttrs): [Tensor, Tensor] {
  let i = 3;
  const m = a.hasMask ? inputs[i++]! : undefined;
  const sg = a.hasSegments ? inputs[i++]! : undefined;
  for (const t of [m, sg]) if (t && t.dtype !== 'i32') throw new ShapeError(`flashAttention: mask and segments must be i32, got ${t.dtype}`);
  return [m ?? sg ?? inputs[0]!, sg ?? m ?? inputs[0]!];
}

function forwardGpu(inputs: Tensor[], a: FlashAttentionAttrs): [Tensor, Tensor[]] {
  const [q, k, v] = inputs as [Tensor, Tensor, Tensor];
  const g = geometry(q.shape, k.shape, v.shape, inputs.slice(3).map((t) => t.shape));
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) throw new ShapeError(`flashAttention: q, k, v dtypes differ (${q.dtype}, ${k.dtype}, ${v.dtype})`);
  const o = empty(q.shape, q.dtype, q.dev);
  const lse = empty([g.B, g.Hq, g.T], 'f32', q.dev);
  const [m, sg] = extras(inputs, a);
  launch(forwardKernel(g, a, q.dtype), [q, k, v, m, sg, o, lse], [Math.ceil(g.T / BR), g.B * g.Hq], uvals(g, a));
  return [o, [lse]];
}

function backwardGpu(go: Tensor, saved: Tensor[], a: FlashAttentionAttrs): Tensor[] {
  const n = 3 + (a.hasMask ? 1 : 0) + (a.hasSegments ? 1 : 0);
  const inputs = saved.slice(0, n);
  const [o, lse] = saved.slice(n) as [Tensor, Tensor];
  const [q, k, v] = inputs as [Tensor, Tensor, Tensor];
  const g = geometry(q.shape, k.shape, v.shape, []);
  const [m, sg] = extras(inputs, a);
  const dq = empty(q.shape, q.dtype, q.dev);
  const delta = empty([g.B, g.Hq, g.T], 'f32', q.dev);
  launch(dqKernel(g, a, q.dtype, go.dtype), [q, k, v, m, sg, o, lse, go, dq, delta], [Math.ceil(g.T / BR), g.B * g.Hq], uvals(g, a));
  const G = g.Hq / g.Hkv;
  // One query head of the group per workgroup layer; G > 1 sums f32 partials afterwards.
  const odt = G > 1 ? 'f32' : k.dtype;
  const pk = empty(G > 1 ? [G, ...k.shape] : k.shape, odt, k.dev);
  const pv = empty(G > 1 ? [G, ...v.shape] : v.shape, odt, v.dev);
  launch(dkvKernel(g, a, q.dtype, go.dtype, odt), [q, k, v, m, sg, lse, delta, go, pk, pv], [Math.ceil(g.S / BR), g.B * g.Hkv, G], uvals(g, a));
  delta.release();
  if (G === 1) return [dq, pk, pv];
  const fold = (p: Tensor) => {
    const s = sum(p, [0]);
    p.release();
    if (s.dtype === k.dtype) return s;
    const c = cast(s, k.dtype);
    s.release();
    return c;
  };
  return [dq, fold(pk), fold(pv)];
}

function flashCpu(inputs: CpuTensor[], a: FlashAttentionAttrs): CpuTensor {
  const [q, k, v] = inputs as [CpuTensor, CpuTensor, CpuTensor];
  let i = 3;
  const mask = a.hasMask ? inputs[i++] : undefined;
  const seg = a.hasSegments ? inputs[i++] : undefined;
  const { B, T, S, Hq, Hkv, D } = geometry(q.shape, k.shape, v.shape, inputs.slice(3).map((t) => t.shape));
  const out = new Float64Array(q.data.length);
  const sc = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let t = 0; t < T; t++) {
        let mx = -Infinity;
        for (let s = 0; s < S; s++) {
          const ok =
            (!a.causal || s <= t + S - T) && (!mask || mask.data[b * S + s] !== 0) && (!seg || seg.data[b * S + s] === seg.data[b * S + t]);
          if (!ok) {
            sc[s] = -Infinity;
            continue;
          }
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q.data[((b * T + t) * Hq + h) * D + d]! * k.data[((b * S + s) * Hkv + hk) * D + d]!;
          sc[s] = acc * a.scale;
          mx = Math.max(mx, sc[s]!);
        }
        if (mx === -Infinity) continue;
        let z = 0;
        for (let s = 0; s < S; s++) z += sc[s] === -Infinity ? 0 : Math.exp(sc[s]! - mx);
        for (let s = 0; s < S; s++) {
          if (sc[s] === -Infinity) continue;
          const p = Math.exp(sc[s]! - mx) / z;
          for (let d = 0; d < D; d++) out[((b * T + t) * Hq + h) * D + d]! += p * v.data[((b * S + s) * Hkv + hk) * D + d]!;
        }
      }
    }
  return { shape: q.shape, data: out };
}

export const flashAttentionOp = /* @__PURE__ */ defineOp<FlashAttentionAttrs>({
  name: 'flashAttention',
  cpu: flashCpu,
  gpu: (inputs, a) => forwardGpu(inputs, a),
  save: (inputs, out) => [...inputs, out],
  backward: (go, { saved, attrs }) => {
    const grads: (Tensor | null)[] = backwardGpu(go, saved, attrs);
    if (attrs.hasMask) grads.push(null);
    if (attrs.hasSegments) grads.push(null);
    return grads;
  },
});

/**
 * Causal (or full) attention over grouped-query heads without an S×S tensor.
 *
 * @example
 * ```ts
 * // q: [B, T, 14, 64], k/v: [B, T, 2, 64]; two packed samples per row: segments [[0,0,0,1,1], ...]
 * const o = flashAttention(q, k, v, { causal: true, segments });
 * ```
 */
export function flashAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { mask?: Tensor; segments?: Tensor; causal?: boolean; scale?: number } = {},
): Tensor {
  const attrs: FlashAttentionAttrs = {
    scale: o.scale ?? 1 / Math.sqrt(q.shape[3]!),
    causal: o.causal ?? true,
    hasMask: !!o.mask,
    hasSegments: !!o.segments,
  };
  return flashAttentionOp([q, k, v, ...(o.mask ? [o.mask] : []), ...(o.segments ? [o.segments] : [])], attrs);
}
