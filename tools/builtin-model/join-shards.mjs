#!/usr/bin/env node
/**
 * Joins a sharded safetensors checkpoint (model.safetensors.index.json + shards) into one
 * model.safetensors, byte for byte the same tensors (the GPU machine returns files of at most
 * 16 MiB, so train.ts writes shards):
 *   node tools/builtin-model/join-shards.mjs <from dir> <to dir>
 * Copies config.json and generation_config.json too.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [from, to] = process.argv.slice(2);
if (!from || !to) throw new Error('usage: join-shards.mjs <from dir> <to dir>');
const index = JSON.parse(readFileSync(join(from, 'model.safetensors.index.json'), 'utf8'));
const tensors = [];
for (const file of [...new Set(Object.values(index.weight_map))]) {
  const buf = readFileSync(join(from, file));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = info.data_offsets;
    tensors.push({ name, dtype: info.dtype, shape: info.shape, data: buf.subarray(8 + n + a, 8 + n + b) });
  }
}
// Sorted by name, as the safetensors library writes them.
tensors.sort((x, y) => (x.name < y.name ? -1 : 1));
const header = { __metadata__: { format: 'pt' } };
let off = 0;
for (const t of tensors) {
  header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
  off += t.data.length;
}
let json = JSON.stringify(header);
json += ' '.repeat((8 - (json.length % 8)) % 8);
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
writeFileSync(join(to, 'model.safetensors'), Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => t.data)]));
for (const f of ['config.json', 'generation_config.json']) copyFileSync(join(from, f), join(to, f));
console.log(`wrote ${join(to, 'model.safetensors')}: ${tensors.length} tensors, ${off} bytes of weights`);
