import { readJsonFile } from '../files/read-json-file';
import { nodeModules } from '../files/node-modules';
import type { ModelConfig } from './model-config';
import { parseModelConfig } from './parse-model-config';

/**
 * Reads and normalizes `<dir>/config.json` (Node only).
 *
 * @example
 * ```ts
 * const cfg = await loadModelConfig('models/TinyLlama-1.1B-Chat-v1.0');
 * ```
 */
export async function loadModelConfig(dir: string): Promise<ModelConfig> {
  const { path } = await nodeModules();
  const file = path.join(dir, 'config.json');
  return parseModelConfig(await readJsonFile(file), file);
}
