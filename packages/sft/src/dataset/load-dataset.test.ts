import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ConfigError, FormatError } from '@q/core';
import { loadDataset } from './load-dataset';
import { parseRows } from './parse-rows';

let dir = '';
const p = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'q-sft-dataset-'));
  await writeFile(p('rows.json'), JSON.stringify([{ text: 'a' }, { text: 'b' }]));
  await writeFile(p('wrapped.json'), JSON.stringify({ version: 1, data: [{ text: 'c' }] }));
  await writeFile(p('chat.jsonl'), '\ufeff{"messages":[{"role":"user","content":"hi"}]}\r\n\n{"messages":[]}\n');
  await writeFile(p('bad.jsonl'), '{"text":"ok"}\n{"text":"ok"}\n{"text": oops}\n');
  await writeFile(p('scalar.jsonl'), '{"text":"ok"}\n[1,2]\n');
  await writeFile(p('lines.json'), '{"text":"a"}\n{"text":"b"}\n');
  await writeFile(p('notrows.json'), '{"text":"a"}');
  const parquet = parquetWriteBuffer({
    columnData: [
      { name: 'prompt', data: ['2+2?', 'capital of France?'], type: 'STRING' },
      { name: 'completion', data: ['4', 'Paris'], type: 'STRING' },
      { name: 'n', data: [BigInt(7), BigInt(8)], type: 'INT64' },
    ],
  });
  await writeFile(p('qa.parquet'), new Uint8Array(parquet));
  await writeFile(p('broken.parquet'), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  await mkdir(p('splits'));
  await writeFile(p('splits/train-00000.jsonl'), '{"t":1}\n{"t":2}\n');
  await writeFile(p('splits/train-00001.jsonl'), '{"t":3}\n');
  await writeFile(p('splits/test.json'), '[{"t":9}]');
  await writeFile(p('splits/README.md'), '# not data');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadDataset', () => {
  it('reads a JSON array, a {data: [...]} file and JSON Lines (BOM, CRLF, blank lines)', async () => {
    expect((await loadDataset(p('rows.json'), { split: 'train' })).rows()).toEqual([{ text: 'a' }, { text: 'b' }]);
    expect((await loadDataset(p('wrapped.json'), { split: 'train' })).rows()).toEqual([{ text: 'c' }]);
    const chat = await loadDataset(p('chat.jsonl'), { split: 'train' });
    expect(chat.length).toBe(2);
    expect(chat.at(0)).toEqual({ messages: [{ role: 'user', content: 'hi' }] });
  });

  it('reads parquet through hyparquet, INT64 as numbers', async () => {
    const ds = await loadDataset(p('qa.parquet'), { split: 'train' });
    expect(ds.columnNames).toEqual(['prompt', 'completion', 'n']);
    expect(ds.rows()).toEqual([
      { prompt: '2+2?', completion: '4', n: 7 },
      { prompt: 'capital of France?', completion: 'Paris', n: 8 },
    ]);
  });

  it('groups files into splits: lists, records and directories', async () => {
    const both = await loadDataset({ train: [p('rows.json'), p('wrapped.json')], test: p('qa.parquet') });
    expect(Object.keys(both)).toEqual(['train', 'test']);
    expect(both.train.length).toBe(3);
    const fromDir = await loadDataset(p('splits'));
    expect(fromDir.train.rows()).toEqual([{ t: 1 }, { t: 2 }, { t: 3 }]);
    expect(fromDir.test.rows()).toEqual([{ t: 9 }]);
    expect((await loadDataset([p('rows.json'), p('rows.json')], { split: 'train' })).length).toBe(4);
  });

  it('errors name the file and the line or row', async () => {
    await expect(loadDataset(p('missing.jsonl'), { split: 'train' })).rejects.toThrow(`${p('missing.jsonl')}: no such file or directory`);
    await expect(loadDataset(p('bad.jsonl'))).rejects.toThrow(new RegExp(`bad\\.jsonl: line 3: malformed JSON`));
    await expect(loadDataset(p('scalar.jsonl'))).rejects.toThrow(/line 2: expected a JSON object, got an array/);
    await expect(loadDataset(p('lines.json'))).rejects.toThrow(/name it \.jsonl/);
    await expect(loadDataset(p('notrows.json'))).rejects.toThrow(/expected an array of rows/);
    await expect(loadDataset(p('broken.parquet'))).rejects.toThrow(FormatError);
    await expect(loadDataset(p('broken.parquet'))).rejects.toThrow(/broken\.parquet: cannot read parquet/);
    await expect(loadDataset(p('splits/README.md'))).rejects.toThrow(/unsupported file type/);
    await expect(loadDataset(p('rows.json'), { split: 'test' })).rejects.toThrow(ConfigError);
    await expect(loadDataset(p('rows.json'), { split: 'test' })).rejects.toThrow(/"split": expected one of "train"/);
  });
});

describe('parseRows (browser path)', () => {
  it('parses bytes or text by file name', async () => {
    expect(await parseRows('x.jsonl', new TextEncoder().encode('{"a":1}\n'))).toEqual([{ a: 1 }]);
    expect(await parseRows('x.json', '[{"a":2}]')).toEqual([{ a: 2 }]);
    await expect(parseRows('x.csv', 'a,b')).rejects.toThrow(/x\.csv: unsupported file type/);
  });
});
