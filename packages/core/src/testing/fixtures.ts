/**
 * Golden fixtures for tests: a missing fixture is a visible skip on a developer's machine and a
 * failure under CI (CI set to anything but "" / "0" / "false"), so CI cannot stay green by skipping.
 * Node-only (node:fs): tests import it from @q/core/testing, never from a browser bundle.
 */
import { existsSync, readFileSync } from 'node:fs';

/** True when CI is set: fixtures and required adapter features must then be present. */
export function underCI(): boolean {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function missing(path: string, makeWith: string): void {
  if (underCI()) throw new Error(`golden fixture ${path} is missing (CI is set, so this fails rather than skips): ${makeWith}`);
}

/** Whether every path exists; throws under CI when one does not. `makeWith` says how to make them. */
export function fixturesPresent(paths: string | string[], makeWith: string): boolean {
  for (const p of typeof paths === 'string' ? [paths] : paths) {
    if (!existsSync(p)) {
      missing(p, makeWith);
      return false;
    }
  }
  return true;
}

/** The parsed JSON fixture, or undefined when absent (a skip); under CI absence throws. */
export function readJsonFixture<T>(path: string, makeWith: string): T | undefined {
  return fixturesPresent(path, makeWith) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}
