import { describe, expect, it } from 'vitest';
import { ConfigError, ValueError } from '@q/core';
import { Dataset } from './dataset';
import { permutation, seededRandom } from './rng';

const ten = () => Dataset.fromRows(Array.from({ length: 10 }, (_, i) => ({ id: i, text: `row ${i}` })));
const ids = (ds: Dataset) => ds.rows().map((r) => r.id as number);

describe('Dataset basics', () => {
  it('length, at (negative too), iteration, columnNames', () => {
    const ds = Dataset.fromRows([{ a: 1 }, { a: 2, b: 'x' }]);
    expect(ds.length).toBe(2);
    expect(ds.at(-1)).toEqual({ a: 2, b: 'x' });
    expect([...ds].map((r) => r.a)).toEqual([1, 2]);
    expect(ds.columnNames).toEqual(['a', 'b']);
    expect(() => ds.at(2)).toThrow(ValueError);
    expect(() => Dataset.fromRows([{ a: 1 }, 3 as never])).toThrow(/row 1 is not an object/);
  });

  it('select by indices and by range', () => {
    expect(ids(ten().select([3, 1, 3]))).toEqual([3, 1, 3]);
    expect(ids(ten().select({ end: 3 }))).toEqual([0, 1, 2]);
    expect(ids(ten().select({ start: 8, end: 10 }))).toEqual([8, 9]);
    expect(() => ten().select([10])).toThrow(/index 10 out of range for 10 rows/);
    expect(() => ten().select({ end: 11 })).toThrow(ConfigError);
  });

  it('map merges returned fields like datasets.map; filter keeps matches; the source is unchanged', () => {
    const ds = ten();
    const mapped = ds.map((r, i) => ({ text: `${r.text}!`, double: i * 2 }), { removeColumns: ['id'] });
    expect(mapped.at(3)).toEqual({ text: 'row 3!', double: 6 });
    expect(ds.at(3)).toEqual({ id: 3, text: 'row 3' });
    expect(ds.map(() => undefined).at(0)).toEqual({ id: 0, text: 'row 0' });
    expect(ids(ds.filter((r) => (r.id as number) % 3 === 0))).toEqual([0, 3, 6, 9]);
    expect(() => ds.map(() => 5 as never)).toThrow(/must return an object/);
  });

  it('mapAsync awaits each row in order', async () => {
    const out = await ten().select({ end: 3 }).mapAsync(async (r) => ({ n: (r.id as number) + 1 }));
    expect(out.rows().map((r) => r.n)).toEqual([1, 2, 3]);
  });
});

describe('shuffle', () => {
  it('is a deterministic permutation for a seed, different across seeds', () => {
    const a = ids(ten().shuffle({ seed: 42 }));
    expect(a).toEqual(ids(ten().shuffle({ seed: 42 })));
    expect([...a].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a).not.toEqual(ids(ten().shuffle({ seed: 43 })));
    expect(() => ten().shuffle({ seed: -1 })).toThrow(/"seed"/);
  });

  it('draws each order of 3 items about equally often', () => {
    const counts = new Map<string, number>();
    for (let seed = 0; seed < 6000; seed++) {
      const key = permutation(3, seededRandom(seed)).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    // Binomial(6000, 1/6): mean 1000, sd ~29; 5 sd either side.
    for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it('produces floats in [0, 1)', () => {
    const r = seededRandom(7);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe('trainTestSplit', () => {
  it('test = ceil(testSize * n) rows; splits are disjoint and cover all rows', () => {
    const { train, test } = ten().trainTestSplit({ testSize: 0.25, seed: 1 });
    expect([train.length, test.length]).toEqual([7, 3]);
    expect([...ids(train), ...ids(test)].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ten().trainTestSplit({ testSize: 0.05, seed: 1 }).test.length).toBe(1);
    expect(ten().trainTestSplit({ testSize: 4, seed: 1 }).test.length).toBe(4);
    const again = ten().trainTestSplit({ testSize: 0.25, seed: 1 });
    expect(ids(again.test)).toEqual(ids(test));
  });

  it('without shuffle the test rows are the last ones', () => {
    const { train, test } = ten().trainTestSplit({ testSize: 2, shuffle: false });
    expect(ids(train)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ids(test)).toEqual([8, 9]);
  });

  it('refuses sizes that leave a split empty', () => {
    expect(() => ten().trainTestSplit({ testSize: 10 })).toThrow(/"testSize"/);
    expect(() => ten().trainTestSplit({ testSize: 0 })).toThrow(/"testSize"/);
    expect(() => Dataset.fromRows([{ a: 1 }]).trainTestSplit({ testSize: 0.5 })).toThrow(/non-empty for 1 rows/);
  });
});
