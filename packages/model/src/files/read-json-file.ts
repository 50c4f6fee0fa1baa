import { FormatError } from '@q/core';
import { describeFsError } from './file-source';
import { nodeModules } from './node-modules';

/**
 * Reads and parses a JSON file; a missing, unreadable or malformed file is a FormatError naming it.
 *
 * @example
 * ```ts
 * const cfg = await readJsonFile(join(dir, 'config.json'));
 * ```
 */
export async function readJsonFile(path: string): Promise<unknown> {
  const { fs } = await nodeModules();
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw new FormatError(path, describeFsError(e, 'cannot read JSON'));
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(path, `not valid JSON (${(e as Error).message})`);
  }
}

/** True when `path` exists (file or folder). */
export async function pathExists(path: string): Promise<boolean> {
  const { fs } = await nodeModules();
  try {
    await fs.stat(path);
    return true;
  } catch {
    return false;
  }
}
