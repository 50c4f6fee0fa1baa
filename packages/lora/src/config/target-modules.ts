/**
 * Which modules get a LoRA adapter: peft's `check_target_module_exists` (tuners_utils.py),
 * rule for rule, so an adapter_config.json selects the same modules here as in peft.
 */
import { ConfigError } from '@q/core';
import type { LoraConfig } from './lora-config';
import { compilePythonRegex } from './python-regex';

/** What {@link matchesTargetModule} needs to know about the module beyond its name. */
export interface ModuleInfo {
  /** Whether the module is a linear layer (only consulted for 'all-linear'). Default true. */
  isLinear?: boolean;
  /** Name of the output projection that 'all-linear' leaves out. Default 'lm_head'. */
  outputModuleName?: string;
}

type MatchConfig = Pick<
  LoraConfig,
  'targetModules' | 'excludeModules' | 'modulesToSave' | 'layersToTransform' | 'layersPattern'
>;

const SOURCE = 'LoraConfig';

/**
 * True when `moduleName` (a full '.'-separated name such as `model.layers.0.self_attn.q_proj`)
 * gets an adapter under `cfg`, following peft:
 * 1. excluded modules (regex full match, exact name or '.'-suffix) never match;
 * 2. modules in `modulesToSave` never match (they are trained in full instead);
 * 3. a string `targetModules` is a Python regex that must match the whole name, except
 *    `'all-linear'`: every linear layer but the output head (`lm_head`);
 * 4. a list matches an exact name or a '.'-suffix (`q_proj` matches `…attn.q_proj`, not `…attn.xq_proj`),
 *    then, for suffix matches, `layersToTransform` keeps only the listed layer indices.
 *
 * @example
 * ```ts
 * const cfg = validateLoraConfig({ target_modules: ['q_proj', 'v_proj'], layers_to_transform: [0] })
 * matchesTargetModule('model.layers.0.self_attn.q_proj', cfg) // true
 * matchesTargetModule('model.layers.1.self_attn.q_proj', cfg) // false
 * ```
 */
export function matchesTargetModule(moduleName: string, cfg: MatchConfig, info: ModuleInfo = {}): boolean {
  const ex = cfg.excludeModules;
  if (ex !== null && ex.length > 0) {
    if (typeof ex === 'string') {
      if (compilePythonRegex(ex, 'excludeModules', SOURCE, 'full').test(moduleName)) return false;
    } else if (ex.includes(moduleName) || ex.some((e) => moduleName.endsWith(`.${e}`))) {
      return false;
    }
  }
  if (cfg.modulesToSave && cfg.modulesToSave.length > 0) {
    // peft: re.match(rf"(^|.*\.){m}($|\..*)", key) with m used as a raw regex fragment.
    const saved = cfg.modulesToSave.some((m) =>
      compilePythonRegex(`(^|.*\\.)${m}($|\\..*)`, 'modulesToSave', SOURCE, 'start').test(moduleName),
    );
    if (saved) return false;
  }
  const target = cfg.targetModules;
  if (target === null) {
    throw new ConfigError(
      'targetModules',
      'a list, a regex or "all-linear" (resolve null with defaultTargetModules(modelType) first)',
      null,
      SOURCE,
    );
  }
  if (typeof target === 'string') {
    if (target.toLowerCase() === 'all-linear') {
      return (info.isLinear ?? true) && moduleName !== (info.outputModuleName ?? 'lm_head');
    }
    return compilePythonRegex(target, 'targetModules', SOURCE, 'full').test(moduleName);
  }
  // An exact full name matches regardless of layersToTransform, as in peft.
  if (target.includes(moduleName)) return true;
  if (!target.some((t) => moduleName.endsWith(`.${t}`))) return false;

  const indexes = cfg.layersToTransform;
  const usingIndexes = indexes !== null && (Array.isArray(indexes) ? indexes.length !== 0 : true);
  if (!usingIndexes) return true;
  const layerIndex = findLayerIndex(moduleName, cfg.layersPattern);
  if (layerIndex === undefined) return false;
  return typeof indexes === 'number' ? layerIndex === indexes : (indexes as number[]).includes(layerIndex);
}

/** The layer number in `name`, found the way peft does (the last `.<pattern>.<n>.` occurrence). */
function findLayerIndex(name: string, layersPattern: string | string[] | null): number | undefined {
  const patterns = layersPattern === null || layersPattern.length === 0 ? null : [layersPattern].flat();
  if (patterns === null) {
    const m = /^.*\.[^.]*\.(\d+)\./.exec(name);
    return m ? Number(m[1]) : undefined;
  }
  for (const p of patterns) {
    const m = compilePythonRegex(`.*\\.${p}\\.(\\d+)\\.`, 'layersPattern', SOURCE, 'start').exec(name);
    if (m) return Number(m[m.length - 1]);
  }
  return undefined;
}

/**
 * peft's default `target_modules` for a model family (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING),
 * used when a config leaves them null. Throws {@link ConfigError} for families not listed.
 *
 * @example
 * ```ts
 * defaultTargetModules('qwen2') // ['q_proj', 'v_proj']
 * ```
 */
export function defaultTargetModules(modelType: string): string[] {
  const t = DEFAULT_TARGETS[modelType];
  if (!t) {
    throw new ConfigError(
      'targetModules',
      `an explicit list: no default for model type "${modelType}" (defaults exist for ${Object.keys(DEFAULT_TARGETS).join(', ')})`,
      null,
      SOURCE,
    );
  }
  return [...t];
}

const QV = ['q_proj', 'v_proj'];
const DEFAULT_TARGETS: Readonly<Record<string, readonly string[]>> = {
  llama: QV,
  mistral: QV,
  mixtral: QV,
  qwen2: QV,
  qwen2_moe: QV,
  qwen3: QV,
  qwen3_moe: QV,
  gemma: QV,
  gemma2: QV,
  stablelm: QV,
  phi: ['q_proj', 'v_proj', 'fc1', 'fc2'],
  phi3: ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'],
  gpt2: ['c_attn'],
  gpt_neox: ['query_key_value'],
};
