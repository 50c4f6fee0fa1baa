/**
 * Reading and writing PEFT's adapter_config.json, so adapters trained here load in peft
 * (`PeftModel.from_pretrained`) and adapters trained with peft load here.
 */
import { closestName, ConfigError, FormatError, toCamelCase } from '@q/core';
import { LORA_DEFAULTS, validateLoraConfig, type LoraConfig } from './lora-config';

/** The peft release whose adapter_config.json key set {@link loraConfigToJson} writes. */
export const PEFT_FORMAT_VERSION = '0.19.1';

const FILE = 'adapter_config.json';
const LORA_FIELDS = Object.keys(LORA_DEFAULTS);

/** Keys peft writes that @q has no field for, and what they may hold for the adapter to mean the same here. */
const EXTRA_PEFT_KEYS: Readonly<Record<string, { ok: (v: unknown) => boolean; why: string } | 'ignore'>> = {
  // Bookkeeping or initialization-only: irrelevant once the weights exist.
  peft_version: 'ignore',
  auto_mapping: 'ignore',
  megatron_core: 'ignore',
  qalora_group_size: 'ignore',
  ensure_weight_tying: 'ignore',
  loftq_config: 'ignore',
  eva_config: 'ignore',
  corda_config: 'ignore',
  lora_ga_config: 'ignore',
  // Features that change the forward pass: accepted only when off.
  lora_bias: { ok: (v) => v === false, why: 'false (LoRA bias terms are not supported)' },
  use_qalora: { ok: (v) => v === false, why: 'false (QALoRA is not supported)' },
  use_bdlora: { ok: inert, why: 'null (BD-LoRA is not supported)' },
  layer_replication: { ok: inert, why: 'null (layer replication is not supported)' },
  target_parameters: { ok: inert, why: 'null (LoRA on bare parameters is not supported)' },
  trainable_token_indices: { ok: inert, why: 'null (trainable tokens are not supported)' },
  alora_invocation_tokens: { ok: inert, why: 'null (activated LoRA is not supported)' },
  arrow_config: { ok: inert, why: 'null (Arrow routing is not supported)' },
  megatron_config: { ok: inert, why: 'null (Megatron layers are not supported)' },
};

/** null, false or an empty list/object: a feature switched off. */
function inert(v: unknown): boolean {
  if (v === null || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && v !== undefined && Object.keys(v as object).length === 0;
}

/**
 * Reads a PEFT adapter_config.json (text or parsed object) into a validated {@link LoraConfig}.
 * Keys of peft features that change the adapter's forward pass must be off; keys this version
 * does not know are ignored when they hold null/false/empty, and refused otherwise.
 *
 * @example
 * ```ts
 * const cfg = loraConfigFromJson(await readFile('adapter/adapter_config.json', 'utf8'))
 * cfg.r // 16
 * ```
 */
export function loraConfigFromJson(json: string | unknown, file = FILE): LoraConfig {
  let obj: unknown = json;
  if (typeof json === 'string') {
    try {
      obj = JSON.parse(json);
    } catch (e) {
      throw new FormatError(file, `not valid JSON: ${(e as Error).message}`);
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new FormatError(file, 'expected a JSON object of LoRA settings');
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
    const camel = toCamelCase(key);
    if (key === 'peft_type' || key === 'peftType') {
      if (value !== 'LORA') throw new ConfigError('peft_type', '"LORA" (only LoRA adapters are supported)', value, file);
      continue;
    }
    if (LORA_FIELDS.includes(camel) || LORA_FIELDS.includes(key)) {
      fields[key] = value;
      continue;
    }
    const extra = EXTRA_PEFT_KEYS[key];
    if (extra === 'ignore') continue;
    if (extra !== undefined) {
      if (!extra.ok(value)) throw new ConfigError(key, extra.why, value, file);
      continue;
    }
    if (inert(value)) continue;
    const guess = closestName(key, LORA_FIELDS);
    throw new ConfigError(
      key,
      `a LoRA field @q knows${guess ? `; did you mean "${guess}"?` : ' (an unknown peft feature that is switched on)'}`,
      value,
      file,
    );
  }
  return validateLoraConfig(fields, { purpose: 'load', source: file });
}

/**
 * Writes `cfg` as the object peft saves in adapter_config.json: every key peft
 * {@link PEFT_FORMAT_VERSION} writes, `inference_mode: true` as `save_pretrained` sets it,
 * `target_modules` as a sorted list (peft keeps a set, so its order is arbitrary) and keys sorted
 * like `json.dumps(..., sort_keys=True)`. Serialize with {@link loraConfigToJsonString}.
 *
 * @example
 * ```ts
 * loraConfigToJson(validateLoraConfig({ r: 16, target_modules: ['v_proj', 'q_proj'] }), 'Qwen/Qwen2.5-0.5B-Instruct')
 * // { alora_invocation_tokens: null, alpha_pattern: {}, ..., r: 16, ..., target_modules: ['q_proj', 'v_proj'], ... }
 * ```
 */
export function loraConfigToJson(cfg: LoraConfig, baseModelNameOrPath?: string | null): Record<string, unknown> {
  const c = validateLoraConfig(cfg, { purpose: 'load' });
  const modules = (m: string[] | string | null) => (Array.isArray(m) ? [...new Set(m)].sort() : m);
  const out: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: c.alphaPattern,
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: baseModelNameOrPath === undefined ? c.baseModelNameOrPath : baseModelNameOrPath,
    bias: c.bias,
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: modules(c.excludeModules),
    fan_in_fan_out: c.fanInFanOut,
    inference_mode: true,
    init_lora_weights: c.initLoraWeights,
    layer_replication: null,
    layers_pattern: c.layersPattern,
    layers_to_transform: c.layersToTransform,
    loftq_config: {},
    lora_alpha: c.loraAlpha,
    lora_bias: false,
    lora_dropout: c.loraDropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: c.modulesToSave,
    peft_type: 'LORA',
    peft_version: PEFT_FORMAT_VERSION,
    qalora_group_size: 16,
    r: c.r,
    rank_pattern: c.rankPattern,
    revision: c.revision,
    target_modules: modules(c.targetModules),
    target_parameters: null,
    task_type: c.taskType,
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: c.useRslora,
  };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * adapter_config.json text: {@link loraConfigToJson} with 2-space indent, as peft writes it.
 *
 * @example
 * ```ts
 * await writeFile('out/adapter_config.json', loraConfigToJsonString(cfg, 'Qwen/Qwen2.5-0.5B-Instruct'))
 * ```
 */
export function loraConfigToJsonString(cfg: LoraConfig, baseModelNameOrPath?: string | null): string {
  return JSON.stringify(loraConfigToJson(cfg, baseModelNameOrPath), null, 2);
}
