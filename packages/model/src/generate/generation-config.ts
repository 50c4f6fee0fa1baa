/**
 * transformers' GenerationConfig in camelCase: the fields generate() supports, their defaults in
 * one place, validation that names the bad field, and generation_config.json reading.
 */
import { checkBoolean, checkInteger, checkNumber, ConfigError, normalizeKeys, toCamelCase } from '@q/core';
import { nodeModules } from '../files/node-modules';
import { pathExists, readJsonFile } from '../files/read-json-file';

/** Decoding settings, as transformers' GenerationConfig names them (camelCase). */
export interface GenerationConfig {
  /** Tokens to generate at most, prompt not counted. Default: unset (then `maxLength` rules). */
  maxNewTokens?: number;
  /** Length of prompt + generation at most, used when `maxNewTokens` is unset. Default 20 (transformers'). */
  maxLength?: number;
  /** Sample from the distribution; false picks the most likely token (greedy). Default false. */
  doSample?: boolean;
  /** Divides the logits before sampling (only with `doSample`); must be > 0. Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens before sampling (only with `doSample`); 0 turns it off. Default 50. */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (only with `doSample`); 1 turns it off. Default 1. */
  topP?: number;
  /** > 1 discourages tokens already in the sequence (prompt included): positive logits are divided by it, negative ones multiplied. Default 1. */
  repetitionPenalty?: number;
  /** Token id(s) that end a row. Default: none (the pipeline uses the tokenizer's eos). */
  eosTokenId?: number | number[] | null;
  /** Id written into finished rows and left padding. Default: the first eos id, as transformers. */
  padTokenId?: number | null;
  /** Stop a row once its text contains one of these, completed by the latest token (needs a tokenizer). Default: none. */
  stopStrings?: string | string[] | null;
  /** Seed of the sampling RNG; the same seed gives the same tokens. Default: a random seed. */
  seed?: number;
  /** Decode against a KV cache; false re-runs the whole sequence each step. Default: the model's `useCache`. */
  useCache?: boolean;
  /** eos cannot end a row before this many new tokens (transformers' MinNewTokensLengthLogitsProcessor). Default 0. */
  minNewTokens?: number;
  /** Sequences returned per prompt (sampled independently, or the best beams). Default 1. */
  numReturnSequences?: number;
  /** Beam search with this many beams; 1 is greedy or sampling. Default 1. */
  numBeams?: number;
  /** Beam search: a finished beam scores sum(log p) / length ** lengthPenalty. Default 1. */
  lengthPenalty?: number;
  /** Beam search: true stops once numBeams hypotheses are done; false stops when no running beam can do better (a heuristic); 'never' uses the exact bound. Default false. */
  earlyStopping?: boolean | 'never';
  /** Beginning-of-sequence id (read from generation_config.json; prompts are given as ids, so it is informational). Default: none. */
  bosTokenId?: number | null;
}

/** The defaults of {@link GenerationConfig}, as in transformers. */
export const GENERATION_DEFAULTS = Object.freeze({
  maxLength: 20,
  doSample: false,
  temperature: 1,
  topK: 50,
  topP: 1,
  repetitionPenalty: 1,
  minNewTokens: 0,
  numReturnSequences: 1,
  numBeams: 1,
  lengthPenalty: 1,
  earlyStopping: false as boolean | 'never',
});

export const GENERATION_FIELDS = [
  'maxNewTokens', 'maxLength', 'doSample', 'temperature', 'topK', 'topP', 'repetitionPenalty',
  'eosTokenId', 'padTokenId', 'stopStrings', 'seed', 'useCache',
  'minNewTokens', 'numReturnSequences', 'numBeams', 'lengthPenalty', 'earlyStopping', 'bosTokenId',
] as const;

/** A config with defaults applied and every field checked. */
export interface ResolvedGenerationConfig {
  maxNewTokens: number | undefined;
  maxLength: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  eosTokenIds: number[];
  padTokenId: number | null;
  stopStrings: string[];
  seed: number | undefined;
  useCache: boolean | undefined;
  minNewTokens: number;
  numReturnSequences: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  bosTokenId: number | null;
}

/**
 * Applies the defaults and checks every field (camelCase or snake_case keys); a ConfigError names the field and what it may hold.
 *
 * @example
 * ```ts
 * resolveGenerationConfig({ topP: 1.5 });
 * // ConfigError: GenerationConfig: invalid value for "topP": expected a number in (0, 1], got 1.5
 * ```
 */
export function resolveGenerationConfig(input: GenerationConfig, source = 'GenerationConfig'): ResolvedGenerationConfig {
  // Unknown keys (a misspelt `maxNewToken`) fail with a suggestion; snake_case is accepted too.
  const c = normalizeKeys(input, GENERATION_FIELDS, source) as GenerationConfig;
  const d = GENERATION_DEFAULTS;
  const opt = <T>(v: T | undefined | null, check: (v: unknown) => T): T | undefined => (v == null ? undefined : check(v));
  const id = (v: unknown, field: string) => checkInteger(v, field, { min: 0 }, source);
  const eos = c.eosTokenId == null ? [] : Array.isArray(c.eosTokenId) ? c.eosTokenId : [c.eosTokenId];
  const stops = c.stopStrings == null ? [] : typeof c.stopStrings === 'string' ? [c.stopStrings] : c.stopStrings;
  if (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ConfigError('stopStrings', 'a non-empty string or a list of them', c.stopStrings, source);
  }
  const eosTokenIds = eos.map((v, i) => id(v, `eosTokenId[${i}]`));
  const padTokenId = opt(c.padTokenId, (v) => id(v, 'padTokenId')) ?? eosTokenIds[0] ?? null;
  return {
    maxNewTokens: opt(c.maxNewTokens, (v) => checkInteger(v, 'maxNewTokens', { min: 1 }, source)),
    maxLength: opt(c.maxLength, (v) => checkInteger(v, 'maxLength', { min: 1 }, source)) ?? d.maxLength,
    doSample: opt(c.doSample, (v) => checkBoolean(v, 'doSample', source)) ?? d.doSample,
    temperature: opt(c.temperature, (v) => checkNumber(v, 'temperature', { min: 0, minExclusive: true }, source)) ?? d.temperature,
    topK: opt(c.topK, (v) => checkInteger(v, 'topK', { min: 0 }, source)) ?? d.topK,
    topP: opt(c.topP, (v) => checkNumber(v, 'topP', { min: 0, minExclusive: true, max: 1 }, source)) ?? d.topP,
    repetitionPenalty: opt(c.repetitionPenalty, (v) => checkNumber(v, 'repetitionPenalty', { min: 0, minExclusive: true }, source)) ?? d.repetitionPenalty,
    eosTokenIds,
    padTokenId,
    stopStrings: stops,
    seed: opt(c.seed, (v) => checkInteger(v, 'seed', {}, source)),
    useCache: opt(c.useCache, (v) => checkBoolean(v, 'useCache', source)),
    minNewTokens: opt(c.minNewTokens, (v) => checkInteger(v, 'minNewTokens', { min: 0 }, source)) ?? d.minNewTokens,
    numReturnSequences: opt(c.numReturnSequences, (v) => checkInteger(v, 'numReturnSequences', { min: 1 }, source)) ?? d.numReturnSequences,
    numBeams: opt(c.numBeams, (v) => checkInteger(v, 'numBeams', { min: 1 }, source)) ?? d.numBeams,
    lengthPenalty: opt(c.lengthPenalty, (v) => checkNumber(v, 'lengthPenalty', {}, source)) ?? d.lengthPenalty,
    earlyStopping: opt(c.earlyStopping, (v) => {
      if (v !== true && v !== false && v !== 'never') throw new ConfigError('earlyStopping', "true, false or 'never'", v, source);
      return v;
    }) ?? d.earlyStopping,
    bosTokenId: opt(c.bosTokenId, (v) => id(v, 'bosTokenId')) ?? null,
  };
}

// Keys of generation_config.json that say nothing about decoding here (bookkeeping, encoder-decoder ids).
const IGNORED_KEYS = ['transformers_version', '_from_model_config', 'decoder_start_token_id'];
// Fields generate() does not implement, accepted only at the value that means "off".
const OFF_VALUES: Record<string, unknown[]> = {
  min_p: [null, 0],
  typical_p: [1],
  no_repeat_ngram_size: [0],
  min_length: [0],
  output_scores: [false],
  output_attentions: [false],
  output_hidden_states: [false],
  return_dict_in_generate: [false],
};

/**
 * Reads a parsed generation_config.json (snake_case) into a {@link GenerationConfig}. A field that
 * generate() does not implement is a ConfigError unless it holds the value that turns it off
 * (`num_beams: 1`), so a file asking for beam search does not silently decode greedily.
 *
 * @example
 * ```ts
 * parseGenerationConfig({ do_sample: true, top_p: 0.8, eos_token_id: [151645, 151643] })
 * // { doSample: true, topP: 0.8, eosTokenId: [151645, 151643] }
 * ```
 */
export function parseGenerationConfig(json: unknown, source = 'generation_config.json'): GenerationConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError('(config)', 'an object of named fields', json, source);
  }
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (IGNORED_KEYS.includes(k)) continue;
    const off = OFF_VALUES[k];
    if (off) {
      if (!off.includes(v)) throw new ConfigError(k, `${off.map((x) => JSON.stringify(x)).join(' or ')} (generate() does not implement ${toCamelCase(k)})`, v, source);
      continue;
    }
    kept[k] = v;
  }
  const out = normalizeKeys(kept, GENERATION_FIELDS, source) as GenerationConfig;
  resolveGenerationConfig(out, source); // check values now, naming the file
  return out;
}

/**
 * Reads `<dir>/generation_config.json` (Node only); null when the folder has none.
 *
 * @example
 * ```ts
 * const gen = await loadGenerationConfig('models/Qwen2.5-0.5B-Instruct');
 * await generate(model, ids, { ...gen, maxNewTokens: 64 });
 * ```
 */
export async function loadGenerationConfig(dir: string): Promise<GenerationConfig | null> {
  const { path } = await nodeModules();
  const file = path.join(dir, 'generation_config.json');
  if (!(await pathExists(file))) return null;
  return parseGenerationConfig(await readJsonFile(file), file);
}
