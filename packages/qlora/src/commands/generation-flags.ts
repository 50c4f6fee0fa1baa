/** The sampling flags `generate` and `chat` share, turned into generate() options. */
import type { GenerationConfig } from '@q/model';

export interface GenerationFlags {
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  seed?: number;
  greedy?: boolean;
}

/**
 * The model's generation_config.json, then the flags: `--temperature 0` or `--greedy` decodes
 * greedily; any other temperature samples.
 */
export function generationOptions(f: GenerationFlags, modelDefaults: GenerationConfig | null): GenerationConfig {
  const g: GenerationConfig = { ...(modelDefaults ?? {}), maxNewTokens: f.maxNewTokens, useCache: true };
  delete g.maxLength;
  if (f.temperature !== undefined) {
    if (f.temperature === 0) g.doSample = false;
    else Object.assign(g, { doSample: true, temperature: f.temperature });
  }
  if (f.topP !== undefined) g.topP = f.topP;
  if (f.topK !== undefined) g.topK = f.topK;
  if (f.repetitionPenalty !== undefined) g.repetitionPenalty = f.repetitionPenalty;
  if (f.seed !== undefined) g.seed = f.seed;
  if (f.greedy) g.doSample = false;
  return g;
}
