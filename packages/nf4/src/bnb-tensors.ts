/**
 * bitsandbytes' state-dict layout of a 4-bit Linear weight (what `Linear4bit._save_to_state_dict`
 * writes into safetensors), to and from {@link QuantizedTensor}.
 */
import { FormatError, ShapeError } from '@q/core';
import { FP4_CODE, NF4_CODE, QUANT_TYPES, type QuantType } from './codebooks';
import { BLOCKSIZES, numelOf, type QuantizedTensor } from './quantized-tensor';
import { checkConsistent } from './dequantize';
import { encodeQuantStateJson, QUANT_STATE_JSON_KEYS } from './bnb-quant-state';
import { ORIGIN_DTYPES, type OriginDtype } from './origin-dtype';
import { bytesToF32, f32ToBytes, RAW_DTYPE_BYTES, type RawDtype, type RawTensor, type RawTensorLike } from './raw-tensor';

/** torch dtypes bitsandbytes can pack 4-bit codes into (`bnb_4bit_quant_storage`). */
export type QuantStorage = 'uint8' | 'int8' | 'float16' | 'bfloat16' | 'float32' | 'float64';

const STORAGE_DTYPE: Readonly<Record<QuantStorage, RawDtype>> = {
  uint8: 'U8', int8: 'I8', float16: 'F16', bfloat16: 'BF16', float32: 'F32', float64: 'F64',
};

/** Suffixes (after `${prefix}.weight.`) bitsandbytes writes. */
const STATE_SUFFIXES = ['absmax', 'quant_map', 'nested_absmax', 'nested_quant_map'];

/**
 * The tensors bitsandbytes saves for one 4-bit weight, keyed as in its state dict:
 * `${prefix}.weight` (codes, shape [(n+1)/2, 1] for uint8 storage), `.weight.absmax`,
 * `.weight.quant_map`, with double quantization `.weight.nested_absmax` and
 * `.weight.nested_quant_map`, and `.weight.quant_state.bitsandbytes__nf4` (or `__fp4`), the
 * UTF-8 JSON of `QuantState.as_dict(packed=True)`'s non-tensor fields.
 *
 * @example
 * ```ts
 * const tensors = toBnbTensors('model.layers.0.mlp.down_proj', quantizeNF4(w, { shape: [o, i] }))
 * // hand `tensors` to the safetensors writer
 * ```
 */
export function toBnbTensors(
  prefix: string,
  q: QuantizedTensor,
  opts: { quantStorage?: QuantStorage } = {},
): Record<string, RawTensor> {
  checkConsistent(q);
  const storage = opts.quantStorage ?? 'uint8';
  const dtype = STORAGE_DTYPE[storage];
  if (!dtype) throw new ShapeError(`toBnbTensors: unknown quantStorage ${JSON.stringify(storage)}`);
  const n = numelOf(q.shape);
  const size = RAW_DTYPE_BYTES[dtype];
  // bitsandbytes allocates ((n + 1) // (2 * itemsize), 1) elements of the storage dtype.
  const rows = Math.floor((n + 1) / (2 * size));
  if (rows * size < q.packed.length) {
    throw new ShapeError(`toBnbTensors: ${n} values do not fit ${storage} storage (${rows} rows of ${size} bytes); use uint8`);
  }
  const w = `${prefix}.weight`;
  const out: Record<string, RawTensor> = {
    [w]: { dtype, shape: [rows, 1], data: q.packed.slice(0, rows * size) },
  };
  const blocks = q.absmax.length;
  out[`${w}.absmax`] = q.doubleQuant
    ? { dtype: 'U8', shape: [blocks], data: q.absmax.slice() }
    : { dtype: 'F32', shape: [blocks], data: f32ToBytes(q.absmax) };
  out[`${w}.quant_map`] = { dtype: 'F32', shape: [16], data: f32ToBytes(q.quantMap) };
  if (q.doubleQuant) {
    out[`${w}.nested_absmax`] = { dtype: 'F32', shape: [q.nestedAbsmax.length], data: f32ToBytes(q.nestedAbsmax) };
    out[`${w}.nested_quant_map`] = { dtype: 'F32', shape: [256], data: f32ToBytes(q.nestedQuantMap) };
  }
  const json = encodeQuantStateJson({
    quant_type: q.quantType,
    blocksize: q.blocksize,
    dtype: q.dtype,
    shape: q.shape,
    ...(q.doubleQuant ? { nested_blocksize: q.nestedBlocksize, nested_dtype: 'float32' as const, nested_offset: q.offset } : {}),
  });
  const bytes = new TextEncoder().encode(json);
  out[`${w}.quant_state.bitsandbytes__${q.quantType}`] = { dtype: 'U8', shape: [bytes.length], data: bytes };
  return out;
}

/**
 * Read one 4-bit weight from bitsandbytes' tensors (as {@link toBnbTensors} writes them, or as
 * found in a pre-quantized Hugging Face checkpoint). Every piece is checked; a FormatError names
 * the tensor key and what was expected. Keys not under `${prefix}.weight` are ignored.
 *
 * @example
 * ```ts
 * const q = fromBnbTensors('model.layers.0.mlp.down_proj', tensorsFromSafetensors)
 * const w = dequantizeNF4(q)
 * ```
 */
export function fromBnbTensors(
  prefix: string,
  tensors: Readonly<Record<string, RawTensorLike>>,
  opts: { file?: string } = {},
): QuantizedTensor {
  const w = `${prefix}.weight`;
  const fail = (key: string, detail: string): never => {
    throw new FormatError(opts.file ? `${opts.file}: ${key}` : key, detail);
  };

  const qsKeys = Object.keys(tensors).filter((k) => k.startsWith(`${w}.quant_state.`));
  for (const k of Object.keys(tensors)) {
    if (!k.startsWith(`${w}.`) || k.startsWith(`${w}.quant_state.`)) continue;
    if (!STATE_SUFFIXES.includes(k.slice(w.length + 1))) {
      fail(k, `unexpected tensor; bitsandbytes writes only ${STATE_SUFFIXES.map((s) => `${w}.${s}`).join(', ')} and ${w}.quant_state.bitsandbytes__<nf4|fp4>`);
    }
  }
  if (qsKeys.length !== 1) {
    fail(`${w}.quant_state.bitsandbytes__nf4`, `expected exactly one quant_state tensor ending in bitsandbytes__nf4 or bitsandbytes__fp4, found ${qsKeys.length ? qsKeys.join(', ') : 'none'}`);
  }
  const qsKey = qsKeys[0];
  const keyType = qsKey.slice(`${w}.quant_state.bitsandbytes__`.length);
  if (!qsKey.startsWith(`${w}.quant_state.bitsandbytes__`) || !QUANT_TYPES.includes(keyType as QuantType)) {
    fail(qsKey, 'expected the key to end in quant_state.bitsandbytes__nf4 or quant_state.bitsandbytes__fp4');
  }
  const state = parseQuantState(qsKey, tensor(tensors, qsKey, 'U8', undefined, fail), fail);
  if (state.quant_type !== keyType) {
    fail(qsKey, `quant_type "${String(state.quant_type)}" does not match the key suffix "${keyType}"`);
  }
  const quantType = keyType as QuantType;

  const n = numelOf(state.shape);
  if (n === 0) fail(qsKey, `shape [${state.shape.join(', ')}] is empty`);
  const blocks = Math.ceil(n / state.blocksize);
  const nested = state.nested_blocksize !== undefined;

  const weight = tensors[w] ?? fail(w, 'missing; expected the packed 4-bit codes');
  const storageDtypes = Object.values(STORAGE_DTYPE);
  const weightDtype = weight.dtype as RawDtype;
  if (!storageDtypes.includes(weightDtype)) fail(w, `dtype ${weight.dtype}; expected one of ${storageDtypes.join(', ')}`);
  const size = RAW_DTYPE_BYTES[weightDtype];
  const rows = Math.floor((n + 1) / (2 * size));
  if (rows * size < Math.ceil(n / 2)) fail(w, `${weight.dtype} storage cannot hold ${n} 4-bit values`);
  tensor(tensors, w, weightDtype, [rows, 1], fail);

  const quantMap = bytesToF32(tensor(tensors, `${w}.quant_map`, 'F32', [16], fail).data);
  const standard = quantType === 'nf4' ? NF4_CODE : FP4_CODE;
  if (!quantMap.every((v, i) => v === standard[i])) {
    fail(`${w}.quant_map`, `expected the standard ${quantType.toUpperCase()} code book [${Array.from(standard).join(', ')}] (bitsandbytes' kernels use it regardless of the stored map)`);
  }

  const base = {
    quantType,
    blocksize: state.blocksize,
    shape: state.shape,
    dtype: state.dtype,
    packed: weight.data.slice(0, Math.ceil(n / 2)),
    quantMap,
  };
  if (!nested) {
    for (const s of ['nested_absmax', 'nested_quant_map']) {
      if (tensors[`${w}.${s}`]) fail(`${w}.${s}`, 'present, but the quant state has no nested_blocksize/nested_offset');
    }
    const absmax = bytesToF32(tensor(tensors, `${w}.absmax`, 'F32', [blocks], fail).data);
    const bad = absmax.findIndex((v) => !(v >= 0 && Number.isFinite(v)));
    if (bad >= 0) fail(`${w}.absmax`, `element ${bad} is ${absmax[bad]}; expected a finite value >= 0`);
    return { ...base, doubleQuant: false, absmax };
  }
  const nb = state.nested_blocksize as number;
  const absmax8 = tensor(tensors, `${w}.absmax`, 'U8', [blocks], fail).data.slice();
  const nestedAbsmax = bytesToF32(tensor(tensors, `${w}.nested_absmax`, 'F32', [Math.ceil(blocks / nb)], fail).data);
  const badN = nestedAbsmax.findIndex((v) => !(v >= 0 && Number.isFinite(v)));
  if (badN >= 0) fail(`${w}.nested_absmax`, `element ${badN} is ${nestedAbsmax[badN]}; expected a finite value >= 0`);
  const nestedQuantMap = bytesToF32(tensor(tensors, `${w}.nested_quant_map`, 'F32', [256], fail).data);
  const badM = nestedQuantMap.findIndex((v) => !Number.isFinite(v));
  if (badM >= 0) fail(`${w}.nested_quant_map`, `element ${badM} is ${nestedQuantMap[badM]}; expected finite values`);
  return {
    ...base,
    doubleQuant: true,
    absmax: absmax8,
    nestedAbsmax,
    nestedQuantMap,
    nestedBlocksize: nb,
    // bitsandbytes: torch.tensor(float(nested_offset)), a float32.
    offset: Math.fround(state.nested_offset as number),
  };
}

type Fail = (key: string, detail: string) => never;

/** Fetch a tensor and check its dtype, shape and byte length. */
function tensor(tensors: Readonly<Record<string, RawTensorLike>>, key: string, dtype: RawDtype, shape: number[] | undefined, fail: Fail): RawTensorLike {
  const t = tensors[key];
  if (!t) return fail(key, `missing; expected a ${dtype} tensor${shape ? ` of shape [${shape.join(', ')}]` : ''}`);
  if (t.dtype !== dtype) fail(key, `dtype ${t.dtype}; expected ${dtype}`);
  if (!Array.isArray(t.shape)) fail(key, 'has no shape');
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    fail(key, `shape [${t.shape.join(', ')}]; expected [${shape.join(', ')}]`);
  }
  if (!shape && t.shape.length !== 1) fail(key, `shape [${t.shape.join(', ')}]; expected a 1-D byte tensor`);
  if (!(t.data instanceof Uint8Array) || t.data.length !== numelOf(t.shape) * RAW_DTYPE_BYTES[dtype]) {
    fail(key, `holds ${t.data?.length ?? 0} bytes; shape [${t.shape.join(', ')}] of ${dtype} needs ${numelOf(t.shape) * RAW_DTYPE_BYTES[dtype]}`);
  }
  return t;
}

interface ParsedState {
  quant_type: unknown;
  blocksize: number;
  dtype: OriginDtype;
  shape: number[];
  nested_blocksize?: number;
  nested_offset?: number;
}

/** Decode and check the packed JSON quant state. */
function parseQuantState(key: string, t: RawTensorLike, fail: Fail): ParsedState {
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(t.data));
  } catch (e) {
    return fail(key, `not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return fail(key, 'expected a JSON object');
  const o = obj as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !QUANT_STATE_JSON_KEYS.includes(k));
  if (extra.length) fail(key, `unexpected field(s) ${extra.join(', ')}; allowed: ${QUANT_STATE_JSON_KEYS.join(', ')}`);
  if (!QUANT_TYPES.includes(o.quant_type as QuantType)) fail(key, `quant_type ${JSON.stringify(o.quant_type)}; expected "nf4" or "fp4"`);
  if (!BLOCKSIZES.includes(o.blocksize as number)) fail(key, `blocksize ${JSON.stringify(o.blocksize)}; expected one of ${BLOCKSIZES.join(', ')}`);
  if (!ORIGIN_DTYPES.includes(o.dtype as OriginDtype)) fail(key, `dtype ${JSON.stringify(o.dtype)}; expected one of ${ORIGIN_DTYPES.join(', ')}`);
  const shape = o.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    fail(key, `shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
  }
  const nestedKeys = ['nested_blocksize', 'nested_dtype', 'nested_offset'].filter((k) => k in o);
  if (nestedKeys.length !== 0 && nestedKeys.length !== 3) {
    fail(key, `has ${nestedKeys.join(', ')} but double quantization needs all of nested_blocksize, nested_dtype, nested_offset`);
  }
  if (nestedKeys.length === 3) {
    if (!BLOCKSIZES.includes(o.nested_blocksize as number) || (o.nested_blocksize as number) < 64) {
      fail(key, `nested_blocksize ${JSON.stringify(o.nested_blocksize)}; expected one of ${BLOCKSIZES.filter((b) => b >= 64).join(', ')}`);
    }
    if (o.nested_dtype !== 'float32') fail(key, `nested_dtype ${JSON.stringify(o.nested_dtype)}; expected "float32"`);
    if (typeof o.nested_offset !== 'number' || !Number.isFinite(o.nested_offset)) {
      fail(key, `nested_offset ${JSON.stringify(o.nested_offset)}; expected a finite number`);
    }
  }
  return o as unknown as ParsedState;
}
