import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, memorySink, readSafetensors, serializeSafetensors, serializeSafetensorsIndex, writeSafetensors, writeShardedSafetensors } from '@q/core';
import { atomicWriteFile, atomicWriteWith } from './atomic-write';
import { openCheckpoint } from './checkpoint';
import { fileSource } from './file-source';
import { readJsonFile } from './read-json-file';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'q-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const tensors = {
  'model.embed_tokens.weight': { dtype: 'F32' as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
  'model.norm.weight': { dtype: 'BF16' as const, shape: [2], data: new Uint16Array([0x3f80, 0xc000]) },
  'lm_head.weight': { dtype: 'F16' as const, shape: [2, 2], data: new Uint16Array([0x3c00, 0x3800, 0, 0xbc00]) },
};

describe('fileSource', () => {
  it('reads ranges of a file and rejects reads past its end', async () => {
    const p = join(root, 'bytes.bin');
    await writeFile(p, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const src = await fileSource(p);
    expect(src.size).toBe(10);
    expect(Array.from(await src.read(3, 4))).toEqual([3, 4, 5, 6]);
    await expect(src.read(8, 4)).rejects.toThrow(/outside the 10-byte file/);
    await src.close();
    await expect(fileSource(join(root, 'nope.bin'))).rejects.toThrow(/nope\.bin: cannot open: file not found/);
  });
});

describe('readJsonFile', () => {
  it('parses JSON and names the file on failure', async () => {
    const good = join(root, 'good.json');
    const bad = join(root, 'bad.json');
    await writeFile(good, '{"a": [1, 2]}');
    await writeFile(bad, '{"a": ');
    expect(await readJsonFile(good)).toEqual({ a: [1, 2] });
    await expect(readJsonFile(bad)).rejects.toThrow(FormatError);
    await expect(readJsonFile(bad)).rejects.toThrow(/bad\.json: not valid JSON/);
    await expect(readJsonFile(join(root, 'missing.json'))).rejects.toThrow(/missing\.json: cannot read JSON: file not found/);
  });
});

describe('atomicWriteFile', () => {
  it('writes, replaces, creates folders, and leaves no temp files', async () => {
    const p = join(root, 'deep', 'er', 'out.txt');
    await atomicWriteFile(p, 'first');
    await atomicWriteFile(p, new TextEncoder().encode('second'));
    expect(await readFile(p, 'utf8')).toBe('second');
    expect(await readdir(join(root, 'deep', 'er'))).toEqual(['out.txt']);
  });

  it('keeps the old file when the writer fails midway', async () => {
    const p = join(root, 'keep.bin');
    await atomicWriteFile(p, 'old');
    await expect(
      atomicWriteWith(p, async (sink) => {
        await sink.write(new TextEncoder().encode('half of the new'));
        throw new Error('GPU readback failed');
      }),
    ).rejects.toThrow(/keep\.bin: write failed, previous contents kept \(GPU readback failed\)/);
    expect(await readFile(p, 'utf8')).toBe('old');
    expect((await readdir(root)).filter((f) => f.includes('keep'))).toEqual(['keep.bin']);
  });

  it('streams a safetensors file that reads back identical to the in-memory one', async () => {
    const p = join(root, 'streamed.safetensors');
    await atomicWriteWith(p, (sink) => writeSafetensors(tensors, sink, { format: 'pt' }));
    expect(new Uint8Array(await readFile(p))).toEqual(serializeSafetensors(tensors, { format: 'pt' }));
  });
});

describe('openCheckpoint', () => {
  it('opens a single-file checkpoint', async () => {
    const dir = join(root, 'single');
    await atomicWriteFile(join(dir, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
    const ck = await openCheckpoint(dir);
    expect(ck.files).toEqual(['model.safetensors']);
    expect(ck.names().sort()).toEqual(Object.keys(tensors).sort());
    expect(Array.from(await ck.readF32('model.norm.weight'))).toEqual([1, -2]);
    await expect(ck.readF32('model.layers.0.mlp.up_proj.weight')).rejects.toThrow(
      /single: no tensor "model\.layers\.0\.mlp\.up_proj\.weight" in model\.safetensors/,
    );
    await ck.close();
  });

  it('opens a sharded checkpoint through its index', async () => {
    const dir = join(root, 'sharded');
    const written = await writeShardedSafetensors(tensors, {
      maxShardSize: 10,
      openSink: async (name) => {
        const sink = memorySink();
        return { ...sink, close: () => atomicWriteFile(join(dir, name), sink.bytes()) };
      },
    });
    await atomicWriteFile(join(dir, written.indexFile!), serializeSafetensorsIndex(written.index!));
    const ck = await openCheckpoint(dir);
    expect(ck.files).toHaveLength(3);
    expect(ck.info('lm_head.weight').file).toBe(written.index!.weight_map['lm_head.weight']);
    expect(Array.from(await ck.readF32('lm_head.weight'))).toEqual([1, 0.5, 0, -1]);
    expect(Array.from(await ck.readF32('model.embed_tokens.weight'))).toEqual([1, 2, 3, 4]);
    expect(() => ck.info('missing')).toThrow(/no tensor "missing" in model-00001-of-00003\.safetensors, .* \(looked up in model\.safetensors\.index\.json\)/);
    await ck.close();
  });

  it('reports an index that points at the wrong shard, and folders without weights', async () => {
    const dir = join(root, 'badindex');
    await atomicWriteFile(join(dir, 'a.safetensors'), serializeSafetensors({ x: tensors['model.norm.weight'] }));
    await atomicWriteFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 4 }, weight_map: { y: 'a.safetensors' } }));
    await expect(openCheckpoint(dir)).rejects.toThrow(/weight_map puts "y" in a\.safetensors, but that shard has no such tensor/);

    const empty = join(root, 'empty');
    await atomicWriteFile(join(empty, 'pytorch_model.bin'), 'x');
    await expect(openCheckpoint(empty)).rejects.toThrow(/no model\.safetensors\.index\.json or model\.safetensors here \(found pytorch_model\.bin/);
    await expect(openCheckpoint(join(root, 'nowhere'))).rejects.toThrow(/checkpoint folder not found/);
  });

  it('rejects a truncated shard with the file named', async () => {
    const dir = join(root, 'trunc');
    const bytes = serializeSafetensors(tensors);
    await atomicWriteFile(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 3));
    await expect(openCheckpoint(dir)).rejects.toThrow(/trunc\/model\.safetensors: .*run past/);
    // readSafetensors over the same bytes from memory gives the same verdict.
    await expect(readSafetensors(bytes.subarray(0, bytes.length - 3), 'm')).rejects.toThrow(FormatError);
  });
});
