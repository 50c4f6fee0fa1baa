import { describe, expect, it } from 'vitest';
import { FormatError } from '../errors';
import { memorySink } from './byte-source';
import { parseSafetensorsIndex, serializeSafetensorsIndex } from './safetensors-index';
import { readSafetensors } from './safetensors-reader';
import { planShards, shardFileName, writeShardedSafetensors } from './safetensors-shards';

describe('planShards', () => {
  it('matches huggingface_hub on its own test state dict', () => {
    // huggingface_hub tests: sizes 6, 10, 30, 2, 2 with max 10 → [l1], [l3], [l2], [l4, l5].
    const sizes: Array<[string, number]> = [['layer_1', 6], ['layer_2', 10], ['layer_3', 30], ['layer_4', 2], ['layer_5', 2]];
    expect(planShards(sizes, 10)).toEqual([['layer_1'], ['layer_3'], ['layer_2'], ['layer_4', 'layer_5']]);
    expect(planShards(sizes, 100)).toEqual([['layer_1', 'layer_2', 'layer_3', 'layer_4', 'layer_5']]);
  });

  it('names shards like transformers', () => {
    expect(shardFileName(0, 3)).toBe('model-00001-of-00003.safetensors');
    expect(shardFileName(11, 12)).toBe('model-00012-of-00012.safetensors');
  });
});

describe('writeShardedSafetensors', () => {
  const tensors = {
    'a.weight': { dtype: 'F32' as const, shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    'b.weight': { dtype: 'F32' as const, shape: [2], data: new Float32Array([5, 6]) },
    'c.weight': { dtype: 'F16' as const, shape: [4], data: new Uint16Array([0x3c00, 0, 0, 0x4000]) },
  };

  it('splits into shards, writes the index, and every tensor reads back from its shard', async () => {
    const files = new Map<string, ReturnType<typeof memorySink>>();
    const openSink = async (name: string) => {
      const s = memorySink();
      files.set(name, s);
      return s;
    };
    const out = await writeShardedSafetensors(tensors, { maxShardSize: 16, openSink });
    // 16 + 8 > 16 → new shard; 8 + 8 fits.
    expect(out.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(out.index).toEqual({
      metadata: { total_size: 32 },
      weight_map: { 'a.weight': out.files[0], 'b.weight': out.files[1], 'c.weight': out.files[1] },
    });
    const index = parseSafetensorsIndex(serializeSafetensorsIndex(out.index!), 'model.safetensors.index.json');
    for (const [name, file] of Object.entries(index.weight_map)) {
      const st = await readSafetensors(files.get(file)!.bytes(), file);
      expect(st.header.metadata).toEqual({ format: 'pt' });
      expect(Array.from(await st.readF32(name))).toEqual(
        name === 'c.weight' ? [1, 0, 0, 2] : Array.from(tensors[name as 'a.weight'].data),
      );
    }
  });

  it('writes a single model.safetensors and no index when everything fits', async () => {
    const out = await writeShardedSafetensors(tensors, { openSink: async () => memorySink() });
    expect(out).toEqual({ files: ['model.safetensors'] });
  });
});

describe('parseSafetensorsIndex', () => {
  it('serializes with sorted keys and two-space indent, as transformers does', () => {
    const text = serializeSafetensorsIndex({ metadata: { total_size: 8 }, weight_map: { z: 'f.safetensors', a: 'f.safetensors' } });
    expect(text).toBe('{\n  "metadata": {\n    "total_size": 8\n  },\n  "weight_map": {\n    "a": "f.safetensors",\n    "z": "f.safetensors"\n  }\n}\n');
  });

  it('rejects malformed indexes naming the file and field', () => {
    const bad: Array<[unknown, RegExp]> = [
      ['{', /idx\.json: not valid JSON/],
      [[], /expected a JSON object/],
      [{ metadata: { total_size: -1 }, weight_map: {} }, /"metadata\.total_size" must be a non-negative integer/],
      [{ metadata: {}, weight_map: [] }, /"weight_map" must be an object/],
      [{ weight_map: { w: '../../etc/passwd' } }, /"weight_map"\."w" must be a shard file name inside the checkpoint folder/],
      [{ weight_map: { w: 3 } }, /"weight_map"\."w"/],
    ];
    for (const [v, re] of bad) {
      expect(() => parseSafetensorsIndex(v, 'idx.json')).toThrow(FormatError);
      expect(() => parseSafetensorsIndex(v, 'idx.json')).toThrow(re);
    }
  });
});
