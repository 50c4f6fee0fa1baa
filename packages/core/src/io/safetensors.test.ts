import { describe, expect, it } from 'vitest';
import { FormatError, ShapeError } from '../errors';
import { memorySink } from './byte-source';
import { parseSafetensorsHeader } from './safetensors-header';
import { readSafetensors } from './safetensors-reader';
import { serializeSafetensors, writeSafetensors } from './safetensors-writer';

const f32Bytes = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

/** Builds a file from a raw header string and data, bypassing the writer's checks. */
function rawFile(header: string, data: Uint8Array = new Uint8Array()): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('serializeSafetensors matches the reference writer byte for byte', () => {
  // Expected bytes are the fixtures of safetensors/src/tensor.rs tests
  // (test_serialization, test_empty, test_serialization_forced_alignement).
  it('one F32 tensor, header already 8-aligned', () => {
    const out = serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    expect(Array.from(out)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34,
      70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95,
      111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const out = serializeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: f32Bytes([0, 1, 2, 3, 4, 5]) } });
    expect(Array.from(out.subarray(0, 8))).toEqual([72, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(out.subarray(8 + 65, 8 + 72))).toEqual([32, 32, 32, 32, 32, 32, 32]);
    expect(out.length).toBe(8 + 72 + 24);
  });

  it('empty file, with and without metadata', () => {
    expect(Array.from(serializeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(serializeSafetensors({}, { framework: 'pt' }))).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114,
      97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it('orders tensors by descending dtype alignment, then name', async () => {
    const t = (dtype: 'F16' | 'F32' | 'I64' | 'BOOL' | 'BF16', n: number) => ({ dtype, shape: [n], data: new Uint8Array(n * { F16: 2, BF16: 2, F32: 4, I64: 8, BOOL: 1 }[dtype]) });
    const bytes = serializeSafetensors({ b: t('F16', 1), e: t('F32', 1), '10': t('BOOL', 3), a: t('F32', 2), c: t('I64', 1), z: t('BF16', 1) });
    const h = await parseSafetensorsHeader(bytes, 'mixed.safetensors');
    // Rank: I64 > F32 > BF16 > F16 > BOOL (enum order of the reference writer).
    expect(h.tensors.map((x) => [x.name, ...x.dataOffsets])).toEqual([
      ['c', 0, 8], ['a', 8, 16], ['e', 16, 20], ['z', 20, 22], ['b', 22, 24], ['10', 24, 27],
    ]);
    // The integer-like name keeps its place in the JSON text too.
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + h.headerLength));
    expect(text.indexOf('"10"')).toBeGreaterThan(text.indexOf('"b"'));
  });

  it('the incremental writer produces the same bytes, asking for lazy data in file order', async () => {
    const asked: string[] = [];
    const sink = memorySink();
    const tensors = {
      small: { dtype: 'F16' as const, shape: [2], data: () => (asked.push('small'), new Uint16Array([0x3c00, 0x4000])) },
      big: { dtype: 'F32' as const, shape: [2], data: async () => (asked.push('big'), new Float32Array([1, 2])) },
    };
    const n = await writeSafetensors(tensors, sink, { format: 'pt' });
    const eager = serializeSafetensors(
      { small: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0x4000]) }, big: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } },
      { format: 'pt' },
    );
    expect(asked).toEqual(['big', 'small']);
    expect(sink.bytes()).toEqual(eager);
    expect(n).toBe(eager.length);
  });

  it('rejects data whose length does not match dtype × shape', () => {
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(ShapeError);
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/"w".*8 bytes.*12/);
  });
});

describe('readSafetensors', () => {
  it('reads F32, F16 and BF16 as float32 and ints in their own arrays', async () => {
    const bytes = serializeSafetensors({
      f: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1.5, -2, 0, 3]) },
      h: { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x0001]) },
      b: { dtype: 'BF16', shape: [2], data: new Uint16Array([0x4049, 0xbf80]) },
      i: { dtype: 'I64', shape: [2], data: new BigInt64Array([-1n, 2n ** 40n]) },
      u: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 255]) },
    }, { format: 'pt' });
    const st = await readSafetensors(bytes, 'x.safetensors');
    expect(st.header.metadata).toEqual({ format: 'pt' });
    expect(st.names()).toEqual(['i', 'f', 'b', 'h', 'u']);
    expect(st.info('f').shape).toEqual([2, 2]);
    expect(Array.from(await st.readF32('f'))).toEqual([1.5, -2, 0, 3]);
    expect(Array.from(await st.readF32('h'))).toEqual([1, -2, 2 ** -24]);
    expect(Array.from(await st.readF32('b'))).toEqual([3.140625, -1]);
    expect(Array.from((await st.readTyped('i')) as BigInt64Array)).toEqual([-1n, 2n ** 40n]);
    expect(Array.from(await st.readBytes('u'))).toEqual([1, 2, 255]);
    await expect(st.readF32('u')).rejects.toThrow(/"u" is U8/);
    expect(() => st.info('missing')).toThrow(FormatError);
    expect(() => st.info('missing')).toThrow(/x\.safetensors: no tensor "missing"/);
  });

  it('reads an F32 tensor that sits at an unaligned offset', async () => {
    const data = new Uint8Array(7);
    data.set([9, 8, 7], 0);
    data.set(f32Bytes([2.5]), 3);
    const file = rawFile('{"u":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"f":{"dtype":"F32","shape":[1],"data_offsets":[3,7]}}', data);
    const st = await readSafetensors(file, 'odd.safetensors');
    expect(Array.from(await st.readF32('f'))).toEqual([2.5]);
  });
});

describe('parseSafetensorsHeader rejects malformed files with the file, tensor and expectation', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['too short', new Uint8Array(5), /bad\.st: file is 5 bytes/],
    ['length past EOF', (() => { const b = new Uint8Array(16); b[0] = 100; return b; })(), /header length 100 runs past the end of the 16-byte file/],
    ['length over cap', (() => { const b = new Uint8Array(16); b[4] = 1; return b; })(), /exceeds the 100000000-byte cap/],
    ['not JSON', rawFile('{"a":'), /header is not valid JSON/],
    ['array header', rawFile('[1,2]    '), /must be a JSON object/],
    ['bad utf-8', (() => { const b = rawFile('{"\u00e9":1}'); b[10] = 0xff; return b; })(), /not valid UTF-8/],
    ['unknown dtype', rawFile('{"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": dtype "F8" is not one of BOOL, .*BF16/],
    ['negative dim', rawFile('{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": shape \[-1\] must be an array of non-negative integers/],
    ['fractional dim', rawFile('{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', new Uint8Array(1)), /tensor "w": shape/],
    ['offsets not pair', rawFile('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}}', new Uint8Array(1)), /tensor "w": data_offsets \[0\] must be \[begin, end\]/],
    ['size mismatch', rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)), /tensor "w": data_offsets \[0, 4\] hold 4 bytes but shape \[2\] of F32 needs 8/],
    ['gap', rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}', new Uint8Array(3)), /tensor "b": data_offsets \[2, 3\] leaves a gap; expected it to begin at 1 \(tensor "a" ends at 1\)/],
    ['overlap', rawFile('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', new Uint8Array(3)), /tensor "b": .*overlaps/],
    ['not from 0', rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', new Uint8Array(2)), /tensor "a": .*begin at 0 \(the data section starts at 0\)/],
    ['truncated data', rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', new Uint8Array(2)), /tensor "a": data_offsets \[0, 4\] run past the 2-byte data section/],
    ['trailing bytes', rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(3)), /tensors cover 1 bytes but the data section holds 3/],
    ['metadata not strings', rawFile('{"__metadata__":{"n":1}}'), /"__metadata__"\."n" must be a string/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, async () => {
      const p = parseSafetensorsHeader(bytes, 'bad.st');
      await expect(p).rejects.toBeInstanceOf(FormatError);
      await expect(parseSafetensorsHeader(bytes, 'bad.st')).rejects.toThrow(message);
    });
  }

  it('accepts entries listed out of offset order and empty tensors', async () => {
    const h = await parseSafetensorsHeader(
      rawFile('{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"e":{"dtype":"F32","shape":[0,4],"data_offsets":[2,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(2)),
      'ok.st',
    );
    expect(h.tensors.map((t) => t.name)).toEqual(['a', 'b', 'e']);
  });
});
