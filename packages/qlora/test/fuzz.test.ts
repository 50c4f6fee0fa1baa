// Property-based fuzzing (fast-check) of every parser of outside data (issue #10): safetensors
// headers and data, config.json, bitsandbytes' quant_state, datasets (JSON, JSONL, Parquet) and
// chat messages. Inputs are random, or valid files with random bytes changed; whatever happens,
// the only failure allowed is @q's typed error (a QError) — never a TypeError, RangeError, V8
// abort or a hang. A counterexample is printed with fast-check's seed, so it replays.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { QError, readSafetensors, serializeSafetensors } from '@q/core';
import { parseModelConfig } from '@q/model';
import { fromBnbTensors, quantizeNF4, toBnbTensors } from '@q/nf4';
import { parseRows } from '@q/sft';
import { applyChatTemplate, BUILTIN_TEMPLATES, validateMessages } from '@q/chat-template';
import { TINY_CONFIG } from './tiny-model';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

/** Runs `f`; returns normally, or throws only a QError. */
async function onlyTyped(f: () => unknown): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof QError)) throw new Error(`untyped ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

/** Bytes of `base` with a few bytes overwritten, cut or extended. */
function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      edits: fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      cut: fc.option(fc.nat({ max: base.length }), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 16 }),
    })
    .map(({ edits, cut, tail }) => {
      const b = new Uint8Array([...base.subarray(0, cut ?? base.length), ...tail]);
      for (const [i, v] of edits) if (i < b.length) b[i] = v;
      return b;
    });
}

const st = serializeSafetensors(
  {
    'a.weight': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    'b.bias': { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0x4000]) },
    'c.codes': { dtype: 'U8', shape: [4], data: new Uint8Array([1, 2, 3, 4]) },
  },
  { format: 'pt' },
);

/** A safetensors header made of random JSON values in the right places. */
const headerJson = fc.dictionary(
  fc.oneof(fc.constant('__metadata__'), fc.string({ maxLength: 8 })),
  fc.oneof(
    fc.record({ dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'U8', 'I64', 'F64', 'BOOL'), fc.string()), shape: fc.array(fc.oneof(fc.integer({ min: -2, max: 9 }), fc.double()), { maxLength: 3 }), data_offsets: fc.array(fc.oneof(fc.integer({ min: -4, max: 64 }), fc.double()), { maxLength: 3 }) }, { requiredKeys: [] }),
    fc.jsonValue(),
  ),
);

function withHeader(json: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

async function readAll(bytes: Uint8Array): Promise<void> {
  const r = await readSafetensors(bytes, 'fuzz.safetensors');
  for (const n of r.names()) {
    await r.readTyped(n);
    await r.readF32(n);
  }
}

describe('fuzz: only typed errors', () => {
  it('safetensors: random bytes, mutated files, random headers', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), (b) => onlyTyped(() => readAll(b))), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(mutated(st), (b) => onlyTyped(() => readAll(b))), { numRuns: RUNS });
    await fc.assert(
      fc.asyncProperty(headerJson, fc.uint8Array({ maxLength: 48 }), (h, data) => onlyTyped(() => readAll(withHeader(JSON.stringify(h), data)))),
      { numRuns: RUNS },
    );
  });

  it('config.json: random values for every key, random objects, random JSON', async () => {
    const keys = Object.keys(TINY_CONFIG);
    const perturbed = fc
      .record({ key: fc.constantFrom(...keys, 'head_dim', 'rope_scaling', 'num_key_value_heads', 'quantization_config'), value: fc.oneof(fc.jsonValue(), fc.double(), fc.constantFrom(1e9, -1, 0, 2 ** 53, NaN)) })
      .map(({ key, value }) => ({ ...TINY_CONFIG, [key]: value }));
    await fc.assert(fc.asyncProperty(fc.oneof(perturbed, fc.jsonValue(), fc.object()), (cfg) => onlyTyped(() => parseModelConfig(cfg, 'fuzz/config.json'))), { numRuns: RUNS * 2 });
  });

  it('bitsandbytes quant_state: mutated quant_state JSON and tensors', async () => {
    const q = quantizeNF4(new Float32Array(256).map((_, i) => Math.sin(i)), { shape: [4, 64], doubleQuant: true });
    const good = toBnbTensors('m.proj', q);
    const qsKey = Object.keys(good).find((k) => k.includes('quant_state'))!;
    const qsBytes = good[qsKey]!.data as Uint8Array;
    const qsJson = JSON.parse(new TextDecoder().decode(qsBytes)) as Record<string, unknown>;
    const variants = fc.oneof(
      // The quant_state JSON with one field changed to anything.
      fc.record({ key: fc.constantFrom(...Object.keys(qsJson), 'extra'), value: fc.oneof(fc.jsonValue(), fc.double()) }).map(({ key, value }) => ({
        ...good,
        [qsKey]: { dtype: 'U8', shape: [0], data: new TextEncoder().encode(JSON.stringify({ ...qsJson, [key]: value })) },
      })),
      // Its bytes mutated.
      mutated(qsBytes).map((b) => ({ ...good, [qsKey]: { dtype: 'U8', shape: [b.length], data: b } })),
      // A tensor dropped, or given another dtype/shape.
      fc.record({ key: fc.constantFrom(...Object.keys(good)), dtype: fc.constantFrom('U8', 'F32', 'F16', 'I64'), shape: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 2 }), drop: fc.boolean() }).map(({ key, dtype, shape, drop }) => {
        const t = { ...good } as Record<string, unknown>;
        if (drop) delete t[key];
        else t[key] = { ...(good[key] as object), dtype, shape };
        return t;
      }),
    );
    await fc.assert(fc.asyncProperty(variants, (t) => onlyTyped(() => fromBnbTensors('m.proj', t as never, { file: 'fuzz.safetensors' }))), { numRuns: RUNS * 2 });
  });

  it('datasets: JSON, JSONL and Parquet from random and mutated bytes', async () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const jsonl = enc('{"text":"a"}\n{"messages":[{"role":"user","content":"hi"}]}\n');
    const json = enc('[{"prompt":"p","completion":"c"}]');
    const parquet = new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'prompt', data: ['2+2?', 'capital?'], type: 'STRING' },
          { name: 'n', data: [BigInt(7), BigInt(8)], type: 'INT64' },
        ],
      }),
    );
    for (const [name, base] of [['f.jsonl', jsonl], ['f.json', json], ['f.parquet', parquet]] as const) {
      await fc.assert(fc.asyncProperty(fc.oneof(mutated(base), fc.uint8Array({ maxLength: 80 })), (b) => onlyTyped(() => parseRows(name, b))), { numRuns: RUNS });
    }
    await fc.assert(fc.asyncProperty(fc.array(fc.jsonValue(), { maxLength: 4 }), (rows) => onlyTyped(() => parseRows('f.jsonl', rows.map((r) => JSON.stringify(r)).join('\n')))), { numRuns: RUNS });
  });

  it('chat messages: anything as messages, and messages with random fields', async () => {
    const message = fc.record(
      { role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool'), fc.jsonValue()), content: fc.oneof(fc.string(), fc.jsonValue(), fc.array(fc.record({ type: fc.constantFrom('text', 'image'), text: fc.jsonValue() }, { requiredKeys: ['type'] }))), tool_calls: fc.jsonValue() },
      { requiredKeys: [] },
    );
    const template = BUILTIN_TEMPLATES.chatml.template;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.array(message, { maxLength: 4 })), async (messages) => {
        await onlyTyped(() => validateMessages(messages));
        await onlyTyped(() => applyChatTemplate(messages as never, { chatTemplate: template }));
      }),
      { numRuns: RUNS },
    );
  });

  it('the property fails on an untyped error (the harness is not vacuous)', async () => {
    await expect(onlyTyped(() => JSON.parse('{'))).rejects.toThrow(/untyped SyntaxError/);
    await expect(onlyTyped(() => parseRows('x.jsonl', '{'))).resolves.toBeUndefined();
  });
});
