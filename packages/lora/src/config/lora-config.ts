/**
 * LoRA configuration with peft's field names (camelCased) and defaults (peft
 * src/peft/tuners/lora/config.py), so a recipe written for peft means the same thing here.
 */
import {
  checkBoolean,
  checkEnum,
  checkInteger,
  checkNumber,
  checkString,
  checkStringList,
  ConfigError,
  withDefaults,
} from '@q/core';
import { compilePythonRegex } from './python-regex';

/** peft's task types; only CAUSAL_LM is trained by @q. */
export const TASK_TYPES = [
  'CAUSAL_LM',
  'SEQ_CLS',
  'SEQ_2_SEQ_LM',
  'TOKEN_CLS',
  'QUESTION_ANS',
  'FEATURE_EXTRACTION',
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Which biases train along with the adapter (peft's `bias`). */
export type LoraBias = 'none' | 'all' | 'lora_only';

/**
 * How LoRA weights start (peft's `init_lora_weights`): `true` = Kaiming-uniform A, zero B (peft's
 * default, Microsoft's reference init); `'gaussian'` = A ~ N(0, 1/r), zero B; `false` = random B
 * too (not an identity start; for tests). peft's data-driven inits (pissa, olora, eva, corda,
 * loftq, orthogonal) are accepted when loading an adapter, where init no longer matters, and
 * refused for training.
 */
export type InitLoraWeights = boolean | 'gaussian' | 'eva' | 'olora' | 'pissa' | 'corda' | 'loftq' | 'orthogonal' | `pissa_niter_${number}`;

/** A LoRA adapter's configuration. Field docs give peft's default. */
export interface LoraConfig {
  /** Rank of the update B·A. Default 8. */
  r: number;
  /** Scale numerator: the update is multiplied by loraAlpha / r (or / sqrt(r) with rslora). Default 8. */
  loraAlpha: number;
  /** Dropout on the adapter's input, in [0, 1). Default 0.0. */
  loraDropout: number;
  /**
   * Modules to adapt: names matched as '.'-separated suffixes (`['q_proj', 'v_proj']`), a Python
   * regex matched against the full module name, or `'all-linear'` (every linear layer but the
   * output head). Default null: the model family's default (see {@link defaultTargetModules}).
   */
  targetModules: string[] | string | null;
  /** Modules never to adapt, matched like `targetModules` (list or regex). Default null. */
  excludeModules: string[] | string | null;
  /** Which biases train. Default 'none'. */
  bias: LoraBias;
  /** Task type. Default 'CAUSAL_LM' (peft's default is null; trl sets CAUSAL_LM for SFT). */
  taskType: TaskType | null;
  /** Modules trained in full and saved with the adapter (e.g. ['lm_head']). Default null. */
  modulesToSave: string[] | null;
  /** Rank-stabilized LoRA: scale by loraAlpha / sqrt(r). Default false. */
  useRslora: boolean;
  /** Initialization of A and B. Default true. */
  initLoraWeights: InitLoraWeights;
  /** The base layer stores its weight as (in, out) (GPT-2 Conv1D). Default false. */
  fanInFanOut: boolean;
  /** Only adapt layers with these indices (with list targets only). Default null: all layers. */
  layersToTransform: number | number[] | null;
  /** Name(s) of the layer list the index follows, e.g. 'layers'. Default null: any. */
  layersPattern: string | string[] | null;
  /** Per-module rank overrides: regex key matched as a '.'-suffix of the module name. Default {}. */
  rankPattern: Record<string, number>;
  /** Per-module alpha overrides, matched like `rankPattern`. Default {}. */
  alphaPattern: Record<string, number>;
  /** DoRA: not supported, only false is accepted. Default false. */
  useDora: boolean;
  /** Adapter frozen for inference (peft writes true when saving). Default false. */
  inferenceMode: boolean;
  /** Base model the adapter belongs to. Default null. */
  baseModelNameOrPath: string | null;
  /** Revision of the base model. Default null. */
  revision: string | null;
}

/** Defaults of {@link LoraConfig}, in one place. */
export const LORA_DEFAULTS: Readonly<LoraConfig> = Object.freeze({
  r: 8,
  loraAlpha: 8,
  loraDropout: 0.0,
  targetModules: null,
  excludeModules: null,
  bias: 'none',
  taskType: 'CAUSAL_LM',
  modulesToSave: null,
  useRslora: false,
  initLoraWeights: true,
  fanInFanOut: false,
  layersToTransform: null,
  layersPattern: null,
  rankPattern: {},
  alphaPattern: {},
  useDora: false,
  inferenceMode: false,
  baseModelNameOrPath: null,
  revision: null,
} satisfies LoraConfig);

/** `initLoraWeights` values @q can train from. */
export const TRAINABLE_INITS: readonly InitLoraWeights[] = [true, false, 'gaussian'];
const PEFT_INITS = ['gaussian', 'eva', 'olora', 'pissa', 'corda', 'loftq', 'orthogonal'];

/** Options of {@link validateLoraConfig}. */
export interface ValidateLoraOptions {
  /** 'train' (default) also refuses what @q cannot train: other task types, data-driven inits. */
  purpose?: 'train' | 'load';
  /** Name shown in error messages. Default 'LoraConfig'. */
  source?: string;
}

/**
 * Fills peft's defaults and validates a LoRA config given in camelCase or peft's snake_case.
 * Throws {@link ConfigError} naming the field and the allowed values.
 *
 * @example
 * ```ts
 * const cfg = validateLoraConfig({ r: 64, lora_alpha: 32, lora_dropout: 0.1, target_modules: ['k_proj', 'v_proj', 'q_proj'] })
 * cfg.bias // 'none'
 * ```
 */
export function validateLoraConfig(input: unknown = {}, options: ValidateLoraOptions = {}): LoraConfig {
  const source = options.source ?? 'LoraConfig';
  const train = (options.purpose ?? 'train') === 'train';
  const c = withDefaults(input, LORA_DEFAULTS as LoraConfig, source);

  checkInteger(c.r, 'r', { min: 1 }, source);
  checkNumber(c.loraAlpha, 'loraAlpha', { min: 0, minExclusive: true }, source);
  checkNumber(c.loraDropout, 'loraDropout', { min: 0, max: 1, maxExclusive: true }, source);
  const targetModules = checkModules(c.targetModules, 'targetModules', source);
  const excludeModules = checkModules(c.excludeModules, 'excludeModules', source);
  checkEnum(c.bias, 'bias', ['none', 'all', 'lora_only'] as const, source);
  if (c.taskType !== null) checkEnum(c.taskType, 'taskType', TASK_TYPES, source);
  if (train && c.taskType !== 'CAUSAL_LM' && c.taskType !== null) {
    throw new ConfigError('taskType', '"CAUSAL_LM" (the only task @q trains)', c.taskType, source);
  }
  const modulesToSave = c.modulesToSave === null ? null : checkStringList(c.modulesToSave, 'modulesToSave', source);
  checkBoolean(c.useRslora, 'useRslora', source);
  checkInit(c.initLoraWeights, train, source);
  checkBoolean(c.fanInFanOut, 'fanInFanOut', source);
  const layersToTransform = checkLayers(c.layersToTransform, source);
  const layersPattern =
    c.layersPattern === null
      ? null
      : typeof c.layersPattern === 'string'
        ? checkString(c.layersPattern, 'layersPattern', source)
        : checkStringList(c.layersPattern, 'layersPattern', source);
  const rankPattern = checkPattern(c.rankPattern, 'rankPattern', true, source);
  const alphaPattern = checkPattern(c.alphaPattern, 'alphaPattern', false, source);
  if (checkBoolean(c.useDora, 'useDora', source)) {
    throw new ConfigError('useDora', 'false (DoRA is not supported by @q/lora)', true, source);
  }
  checkBoolean(c.inferenceMode, 'inferenceMode', source);
  if (c.baseModelNameOrPath !== null) checkString(c.baseModelNameOrPath, 'baseModelNameOrPath', source);
  if (c.revision !== null) checkString(c.revision, 'revision', source);

  // The same cross-field rules as peft's LoraConfig.__post_init__.
  if (typeof targetModules === 'string' && layersToTransform !== null) {
    throw new ConfigError('layersToTransform', 'null when targetModules is a regex string', layersToTransform, source);
  }
  if (typeof targetModules === 'string' && layersPattern !== null) {
    throw new ConfigError('layersPattern', 'null when targetModules is a regex string', layersPattern, source);
  }
  if (layersPattern !== null && layersToTransform === null) {
    throw new ConfigError('layersToTransform', 'a layer index or list when layersPattern is set', null, source);
  }
  return {
    ...c,
    targetModules,
    excludeModules,
    modulesToSave,
    layersToTransform,
    layersPattern,
    rankPattern,
    alphaPattern,
  };
}

function checkModules(v: unknown, field: string, source: string): string[] | string | null {
  if (v === null) return null;
  if (typeof v === 'string') {
    if (v.toLowerCase() !== 'all-linear') compilePythonRegex(v, field, source);
    return checkString(v, field, source);
  }
  if (!Array.isArray(v)) {
    throw new ConfigError(field, 'a list of module names, a regex string, "all-linear" or null', v, source);
  }
  return checkStringList(v, field, source);
}

function checkInit(v: unknown, train: boolean, source: string): void {
  const known =
    typeof v === 'boolean' || (typeof v === 'string' && (PEFT_INITS.includes(v) || /^pissa_niter_\d+$/.test(v)));
  if (!known) {
    throw new ConfigError('initLoraWeights', `true, false or one of ${PEFT_INITS.join(', ')}, pissa_niter_N`, v, source);
  }
  if (train && !TRAINABLE_INITS.includes(v as InitLoraWeights)) {
    throw new ConfigError('initLoraWeights', 'true, false or "gaussian" (other inits are not supported for training)', v, source);
  }
}

function checkLayers(v: unknown, source: string): number | number[] | null {
  if (v === null) return null;
  if (typeof v === 'number') return checkInteger(v, 'layersToTransform', { min: 0 }, source);
  if (!Array.isArray(v)) throw new ConfigError('layersToTransform', 'a layer index, a list of indices or null', v, source);
  return v.map((x, i) => checkInteger(x, `layersToTransform[${i}]`, { min: 0 }, source));
}

function checkPattern(v: unknown, field: string, integer: boolean, source: string): Record<string, number> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ConfigError(field, 'an object mapping module-name patterns to numbers', v, source);
  }
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
    compilePythonRegex(k, `${field} key`, source);
    out[k] = checkNumber(n, `${field}["${k}"]`, { min: integer ? 1 : 0, minExclusive: !integer, integer }, source);
  }
  return out;
}
