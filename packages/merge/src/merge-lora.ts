/**
 * merge_and_unload: folds each LoRA delta (scaling · B·A) into its base weight and returns a plain
 * model with dense projections. A 4-bit base is dequantized first and the result stays in the
 * dtype asked (f32, f16 or bf16): merging back into 4 bits would round away most of the adapter
 * (users.md #2), so re-quantizing is opt-in and reports its error.
 */
// W: [out, in], A: [r, in], B: [out, r]; W' = W + scaling · B·A
import { add, keep, matmul, noGrad, scale, tensor, tidy, ValueError, type Tensor } from '@q/core';
import { Linear, QuantLinear, type CausalLM, type LinearLike } from '@q/model';
import { roundToBfloat16, roundToFloat16, quantizeOnGpu } from '@q/nf4';
import { LoraLinear, type PeftModel } from '@q/lora';

export type MergeDtype = 'float32' | 'float16' | 'bfloat16';

export interface MergeOptions {
  /** Precision of the merged weights (and of the saved model). Default 'float32'. */
  dtype?: MergeDtype;
  /** peft's safe_merge: check every merged weight for NaN/Inf before replacing anything. Default true. */
  safeMerge?: boolean;
  /** Re-quantize merged projections to NF4 (lossy; see the report). Default false. */
  requantize?: boolean | { quantType?: 'nf4' | 'fp4'; doubleQuant?: boolean; blocksize?: number };
}

export interface MergeReport {
  layers: number;
  dtype: MergeDtype;
  /** With requantize: the largest |W_merged − dequant(quant(W_merged))| over all layers, and its mean. */
  requantizeError?: { maxAbs: number; meanAbs: number };
}

function baseWeight(l: LinearLike): Tensor {
  if (l instanceof QuantLinear) return l.dequantize();
  if (l instanceof Linear) return l.weight.reshape([...l.weight.shape]);
  throw new ValueError(`cannot merge into a ${l.constructor.name}: only dense and 4-bit projections`);
}

export interface LoraDelta {
  a: Tensor;
  b: Tensor;
  scaling: number;
}

/** A dense weight plus Σ scaling · B·A. */
function foldedWeight(base: LinearLike, deltas: LoraDelta[]): Tensor {
  return noGrad(() =>
    tidy(() => {
      let w = baseWeight(base);
      for (const d of deltas) w = add(w, scale(matmul(d.b, d.a), d.scaling));
      return w;
    }),
  );
}

async function roundTo(w: Tensor, dtype: MergeDtype): Promise<Float32Array> {
  const f = (await w.read()) as Float32Array;
  if (dtype === 'float16') return f.map((v) => roundToFloat16(v));
  if (dtype === 'bfloat16') return f.map((v) => roundToBfloat16(v));
  return f;
}

/**
 * Folds LoRA deltas into the named projections of a plain model (no LoRA layers) and replaces
 * them with dense (or re-quantized) layers. The shared core of every merge here.
 */
export async function foldDeltas(model: CausalLM, deltas: Map<string, LoraDelta[]>, o: MergeOptions = {}): Promise<MergeReport> {
  const dtype = o.dtype ?? 'float32';
  // Without requantize the result is dense throughout: 4-bit layers the adapter did not touch are
  // dequantized too (with no delta), or the merged model would mix 4-bit and dense layers and a
  // full-precision save would have no dense weight to write for them.
  const slots = model.linearSlots().filter((s) => deltas.has(s.name) || (!o.requantize && s.get() instanceof QuantLinear));
  const merged = new Map<string, Float32Array>();
  // Compute everything first, so a non-finite weight leaves the model untouched (safe merge).
  for (const slot of slots) {
    const w = keep(foldedWeight(slot.get(), deltas.get(slot.name) ?? []));
    const data = await roundTo(w, dtype);
    w.release();
    if (o.safeMerge ?? true) {
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new ValueError(`merge: ${slot.name} has a non-finite merged weight at index ${bad}; the adapter is broken (nothing was merged)`);
    }
    merged.set(slot.name, data);
  }
  let maxAbs = 0;
  let sumAbs = 0;
  let count = 0;
  for (const slot of slots) {
    const base = slot.get();
    const data = merged.get(slot.name)!;
    const shape: [number, number] = [base.outFeatures, base.inFeatures];
    const bias = base instanceof Linear || base instanceof QuantLinear ? base.bias : null;
    let next: LinearLike;
    if (o.requantize) {
      const rq = typeof o.requantize === 'object' ? o.requantize : {};
      const dense = keep(tensor(data, shape, { dev: model.dev }));
      const w4 = await quantizeOnGpu(dense, { quantType: rq.quantType ?? 'nf4', doubleQuant: rq.doubleQuant ?? true, blocksize: rq.blocksize ?? 64 });
      dense.release();
      const q = new QuantLinear(w4, bias);
      const back = keep(q.dequantize());
      const d = (await back.read()) as Float32Array;
      back.release();
      for (let i = 0; i < d.length; i++) {
        const e = Math.abs(d[i]! - data[i]!);
        maxAbs = Math.max(maxAbs, e);
        sumAbs += e;
      }
      count += d.length;
      next = q;
    } else {
      next = new Linear(keep(tensor(data, shape, { dev: model.dev })), bias);
    }
    // The old weight goes; the bias lives on in the new layer.
    if (base instanceof QuantLinear) base.weight4.release();
    else if (base instanceof Linear) base.weight.release();
    slot.set(next);
  }
  for (const [, t] of model.namedParameters()) t.requiresGrad = false;
  const report: MergeReport = { layers: slots.filter((sl) => deltas.has(sl.name)).length, dtype };
  if (o.requantize) report.requantizeError = { maxAbs, meanAbs: count ? sumAbs / count : 0 };
  return report;
}

/** Takes the LoRA layers out of the model, returning their deltas (the tensors now belong to the caller). */
export function detachAdapters(peft: PeftModel, weight = 1): Map<string, LoraDelta[]> {
  const out = new Map<string, LoraDelta[]>();
  for (const slot of peft.base.linearSlots()) {
    const l = slot.get();
    if (!(l instanceof LoraLinear)) continue;
    out.set(slot.name, [{ a: l.loraA, b: l.loraB, scaling: l.scaling * weight }]);
    l.loraA.requiresGrad = false;
    l.loraB.requiresGrad = false;
    slot.set(l.base);
  }
  peft.layers.clear();
  return out;
}

export function releaseDeltas(deltas: Map<string, LoraDelta[]>): void {
  for (const list of deltas.values()) for (const d of list) {
    d.a.grad?.release();
    d.b.grad?.release();
    d.a.release();
    d.b.release();
  }
}

/**
 * Merges every LoRA layer into its base and removes the adapters (peft's merge_and_unload).
 *
 * @example
 * ```ts
 * const { model, report } = await mergeAndUnload(peft, { dtype: 'float16' });
 * await saveMerged(model, 'merged', { dtype: 'float16', tokenizerDir: baseDir });
 * ```
 */
export async function mergeAndUnload(peft: PeftModel, o: MergeOptions = {}): Promise<{ model: CausalLM; report: MergeReport }> {
  const model = peft.base;
  const deltas = detachAdapters(peft);
  try {
    return { model, report: await foldDeltas(model, deltas, o) };
  } finally {
    releaseDeltas(deltas);
  }
}
