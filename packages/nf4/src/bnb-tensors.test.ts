import { describe, expect, it } from 'vitest';
import { FormatError } from '@q/core';
import { quantizeNF4 } from './quantize';
import { toBnbTensors, fromBnbTensors } from './bnb-tensors';
import { pythonFloatRepr } from './python-float';
import { f32ToBytes, type RawTensor } from './raw-tensor';
import { normalData } from './test-reference';

const P = 'model.layers.0.mlp.down_proj';
const W = `${P}.weight`;
const text = (t: RawTensor) => new TextDecoder().decode(t.data);

function twoBlocks(): Float32Array {
  const data = new Float32Array(128);
  data[0] = 1;
  data[64] = -2;
  return data;
}

describe('toBnbTensors', () => {
  it('writes the keys, dtypes and shapes of Linear4bit._save_to_state_dict', () => {
    const t = toBnbTensors(P, quantizeNF4(twoBlocks(), { shape: [2, 64] }));
    expect(Object.keys(t)).toEqual([W, `${W}.absmax`, `${W}.quant_map`, `${W}.quant_state.bitsandbytes__nf4`]);
    expect(t[W]).toMatchObject({ dtype: 'U8', shape: [64, 1] });
    expect(t[`${W}.absmax`]).toMatchObject({ dtype: 'F32', shape: [2] });
    expect(Array.from(t[`${W}.absmax`].data)).toEqual(Array.from(f32ToBytes(Float32Array.of(1, 2))));
    expect(t[`${W}.quant_map`]).toMatchObject({ dtype: 'F32', shape: [16] });
    expect(text(t[`${W}.quant_state.bitsandbytes__nf4`])).toBe(
      '{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [2, 64]}',
    );
  });

  it('writes the nested tensors and the packed JSON of as_dict(packed=True) with double quant', () => {
    const t = toBnbTensors(P, quantizeNF4(twoBlocks(), { shape: [2, 64], doubleQuant: true, quantType: 'fp4', dtype: 'bfloat16' }));
    expect(Object.keys(t)).toEqual([
      W, `${W}.absmax`, `${W}.quant_map`, `${W}.nested_absmax`, `${W}.nested_quant_map`, `${W}.quant_state.bitsandbytes__fp4`,
    ]);
    expect(t[`${W}.absmax`]).toMatchObject({ dtype: 'U8', shape: [2], data: Uint8Array.of(0, 255) });
    expect(t[`${W}.nested_absmax`]).toMatchObject({ dtype: 'F32', shape: [1] });
    expect(t[`${W}.nested_quant_map`]).toMatchObject({ dtype: 'F32', shape: [256] });
    expect(text(t[`${W}.quant_state.bitsandbytes__fp4`])).toBe(
      '{"quant_type": "fp4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 1.5}',
    );
  });

  it('uses (n + 1) // 2 rows for odd n and (n + 1) // 4 rows of bfloat16 storage', () => {
    expect(toBnbTensors(P, quantizeNF4(normalData(99, 1)))[W].shape).toEqual([50, 1]);
    const bf = toBnbTensors(P, quantizeNF4(normalData(128, 1)), { quantStorage: 'bfloat16' });
    expect(bf[W]).toMatchObject({ dtype: 'BF16', shape: [32, 1] });
    expect(bf[W].data.length).toBe(64);
  });
});

describe('fromBnbTensors', () => {
  it.each([
    ['nf4', false], ['nf4', true], ['fp4', false], ['fp4', true],
  ] as const)('round-trips %s (double quant %s) bit for bit', (quantType, doubleQuant) => {
    const q = quantizeNF4(normalData(64 * 300 + 6, 3), { quantType, doubleQuant, shape: [6, 3201], dtype: 'float16' });
    const back = fromBnbTensors(P, { ...toBnbTensors(P, q), [`${P}.bias`]: { dtype: 'F32', shape: [6], data: new Uint8Array(24) } });
    expect(back).toEqual(q);
  });

  it('reads packed codes stored as bfloat16', () => {
    const q = quantizeNF4(normalData(256, 4));
    expect(fromBnbTensors(P, toBnbTensors(P, q, { quantStorage: 'bfloat16' }))).toEqual(q);
  });

  const good = () => toBnbTensors(P, quantizeNF4(twoBlocks(), { shape: [2, 64], doubleQuant: true }));
  const qs = `${W}.quant_state.bitsandbytes__nf4`;
  const json = (s: string): RawTensor => {
    const data = new TextEncoder().encode(s);
    return { dtype: 'U8', shape: [data.length], data };
  };
  const cases: [string, (t: Record<string, RawTensor>) => void, string, RegExp][] = [
    ['missing weight', (t) => delete t[W], W, /missing/],
    ['weight of the wrong shape', (t) => (t[W] = { ...t[W], shape: [1, 64] }), W, /shape \[1, 64\]; expected \[64, 1\]/],
    ['absmax as F32 when nested', (t) => (t[`${W}.absmax`] = { dtype: 'F32', shape: [2], data: new Uint8Array(8) }), `${W}.absmax`, /dtype F32; expected U8/],
    ['missing nested_absmax', (t) => delete t[`${W}.nested_absmax`], `${W}.nested_absmax`, /missing/],
    ['truncated nested_quant_map', (t) => (t[`${W}.nested_quant_map`] = { ...t[`${W}.nested_quant_map`], data: new Uint8Array(10) }), `${W}.nested_quant_map`, /holds 10 bytes/],
    ['a non-standard quant_map', (t) => (t[`${W}.quant_map`] = { dtype: 'F32', shape: [16], data: new Uint8Array(64) }), `${W}.quant_map`, /standard NF4 code book/],
    ['no quant_state', (t) => delete t[qs], qs, /exactly one quant_state/],
    ['two quant_states', (t) => (t[`${W}.quant_state.bitsandbytes__fp4`] = t[qs]), qs, /exactly one quant_state/],
    ['quant_type that disagrees with the key', (t) => (t[qs] = json(text(t[qs]).replace('"nf4"', '"fp4"'))), qs, /does not match/],
    ['invalid JSON', (t) => (t[qs] = json('{"quant_type": nf4')), qs, /not UTF-8 JSON/],
    ['an unknown JSON field', (t) => (t[qs] = json(text(t[qs]).replace('}', ', "foo": 1}'))), qs, /unexpected field\(s\) foo/],
    ['a bad blocksize', (t) => (t[qs] = json(text(t[qs]).replace('"blocksize": 64', '"blocksize": 48'))), qs, /blocksize 48; expected one of 32/],
    ['a shape that does not fit the weight', (t) => (t[qs] = json(text(t[qs]).replace('[2, 64]', '[4, 64]'))), W, /shape \[64, 1\]; expected \[128, 1\]/],
    ['half the nested fields', (t) => (t[qs] = json(text(t[qs]).replace(', "nested_dtype": "float32"', ''))), qs, /needs all of nested_blocksize/],
    ['an unexpected weight.* tensor', (t) => (t[`${W}.SCB`] = t[`${W}.absmax`]), `${W}.SCB`, /unexpected tensor/],
  ];
  it.each(cases)('rejects %s with a FormatError naming the key', (_name, mutate, key, detail) => {
    const t = good();
    mutate(t);
    let err: unknown;
    try {
      fromBnbTensors(P, t, { file: 'model.safetensors' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).file).toBe(`model.safetensors: ${key}`);
    expect((err as FormatError).detail).toMatch(detail);
  });

  it('rejects NaN in a plain absmax', () => {
    const t = toBnbTensors(P, quantizeNF4(twoBlocks()));
    t[`${W}.absmax`] = { dtype: 'F32', shape: [2], data: f32ToBytes(Float32Array.of(1, NaN)) };
    expect(() => fromBnbTensors(P, t)).toThrow(/element 1 is NaN/);
  });
});

describe('pythonFloatRepr', () => {
  it('writes floats as Python repr does (values checked against CPython)', () => {
    const cases: [number, string][] = [
      [1, '1.0'], [1.5, '1.5'], [0.1, '0.1'], [1e-5, '1e-05'], [0.0001, '0.0001'], [1.2345e-7, '1.2345e-07'],
      [123456789012345.6, '123456789012345.6'], [1e16, '1e+16'], [1.5e16, '1.5e+16'], [2.5e-310, '2.5e-310'],
      [-0.012345678918063641, '-0.012345678918063641'], [3.4028234663852886e38, '3.4028234663852886e+38'], [100, '100.0'],
      [-0, '-0.0'],
    ];
    for (const [x, s] of cases) expect(pythonFloatRepr(x)).toBe(s);
  });
});
