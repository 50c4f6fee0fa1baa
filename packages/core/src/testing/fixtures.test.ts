import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesPresent, readJsonFixture, underCI } from './fixtures';

const saved = process.env.CI;
afterEach(() => {
  if (saved === undefined) delete process.env.CI;
  else process.env.CI = saved;
});

describe('golden fixtures: skip locally, fail under CI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'q-fixture-'));
  const present = join(dir, 'a.json');
  writeFileSync(present, '{"x":[1,2]}');
  const absent = join(dir, 'none.json');

  it('reads a present fixture either way', () => {
    process.env.CI = 'true';
    expect(readJsonFixture(present, 'make it')).toEqual({ x: [1, 2] });
    delete process.env.CI;
    expect(readJsonFixture(present, 'make it')).toEqual({ x: [1, 2] });
  });

  it('returns undefined for a missing fixture off CI, and throws, naming the maker, under CI', () => {
    for (const v of [undefined, '', '0', 'false', 'FALSE']) {
      if (v === undefined) delete process.env.CI;
      else process.env.CI = v;
      expect(underCI()).toBe(false);
      expect(readJsonFixture(absent, 'run x.py')).toBeUndefined();
      expect(fixturesPresent([present, absent], 'run x.py')).toBe(false);
    }
    for (const v of ['true', '1', 'yes']) {
      process.env.CI = v;
      expect(underCI()).toBe(true);
      expect(() => readJsonFixture(absent, 'run x.py')).toThrow(/none\.json is missing.*run x\.py/);
      expect(() => fixturesPresent([present, absent], 'run x.py')).toThrow(/none\.json/);
    }
    expect(fixturesPresent([present], 'run x.py')).toBe(true);
  });
});
