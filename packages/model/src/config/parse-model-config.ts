import { checkBoolean, checkEnum, checkInteger, checkNumber, ConfigError } from '@q/core';
import { MODEL_CONFIG_DEFAULTS, MODEL_TYPES, TORCH_DTYPES, type ModelConfig, type RopeScaling, type TorchDtype } from './model-config';
import { validateModelConfig } from './validate-model-config';

/**
 * Normalizes a parsed `config.json` into a {@link ModelConfig}: fills transformers' defaults for
 * missing keys, derives head_dim, reads RoPE scaling, passes quantization_config through, and
 * records what it ignores in `notes`. Errors are ConfigErrors naming `fileName` and the field.
 *
 * @example
 * ```ts
 * const cfg = parseModelConfig(JSON.parse(text), 'Qwen2.5-0.5B/config.json');
 * cfg.numKeyValueHeads // 2
 * ```
 */
export function parseModelConfig(json: unknown, fileName = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('(config)', 'a JSON object', json, fileName);
  }
  const raw = json as Record<string, unknown>;
  const modelType = checkEnum(raw.model_type, 'model_type', MODEL_TYPES, fileName);
  const d = MODEL_CONFIG_DEFAULTS[modelType];
  // A key set to null means "default" in transformers for these fields.
  const get = <K extends keyof typeof d>(k: K) => (raw[k] ?? d[k]) as unknown;
  const int = (k: keyof typeof d) => checkInteger(get(k), k, { min: 1 }, fileName);

  const hiddenSize = int('hidden_size');
  const numAttentionHeads = int('num_attention_heads');
  const numKeyValueHeads = checkInteger(get('num_key_value_heads') ?? numAttentionHeads, 'num_key_value_heads', { min: 1 }, fileName);
  const headDim = raw.head_dim != null ? checkInteger(raw.head_dim, 'head_dim', { min: 1 }, fileName) : derivedHeadDim(hiddenSize, numAttentionHeads, fileName);

  const notes: string[] = [];
  // NOTE: sliding-window attention is not implemented; full attention equals it for sequences
  // no longer than the window, so we load the model and say so instead of refusing.
  const window = raw.sliding_window;
  const windowOn = modelType === 'qwen2' ? raw.use_sliding_window === true : modelType === 'mistral' && window != null;
  if (windowOn) notes.push(`sliding_window=${String(window)} ignored: attention is full, which matches it for sequences up to ${String(window)} tokens`);

  // Newer transformers nest rope settings in rope_parameters; older ones use top-level keys.
  const ropeParams = isObject(raw.rope_parameters) ? raw.rope_parameters : undefined;
  const ropeTheta = checkNumber(ropeParams?.rope_theta ?? get('rope_theta'), 'rope_theta', { min: 0, minExclusive: true }, fileName);
  const ropeScaling = parseRopeScaling(ropeParams ?? raw.rope_scaling ?? null, fileName);

  const attentionBias = raw.attention_bias == null ? false : checkBoolean(raw.attention_bias, 'attention_bias', fileName);
  const q = raw.quantization_config;
  if (q != null && !isObject(q)) throw new ConfigError('quantization_config', 'an object or null', q, fileName);

  const cfg: ModelConfig = {
    modelType,
    architectures: Array.isArray(raw.architectures) ? raw.architectures.map(String) : [],
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numHiddenLayers: int('num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    hiddenAct: checkEnum(raw.hidden_act ?? 'silu', 'hidden_act', ['silu'] as const, fileName),
    maxPositionEmbeddings: int('max_position_embeddings'),
    rmsNormEps: checkNumber(get('rms_norm_eps'), 'rms_norm_eps', { min: 0, minExclusive: true, max: 1 }, fileName),
    ropeTheta,
    ropeScaling,
    // Qwen2 hard-codes bias=True on q/k/v and none on o_proj; Llama's attention_bias covers all four.
    qkvBias: modelType === 'qwen2' ? true : modelType === 'llama' && attentionBias,
    oBias: modelType === 'llama' && attentionBias,
    mlpBias: modelType === 'llama' && raw.mlp_bias != null ? checkBoolean(raw.mlp_bias, 'mlp_bias', fileName) : false,
    tieWordEmbeddings: checkBoolean(get('tie_word_embeddings'), 'tie_word_embeddings', fileName),
    torchDtype: parseDtype(raw.torch_dtype ?? raw.dtype, fileName),
    bosTokenId: optionalId(raw, 'bos_token_id', d.bos_token_id),
    eosTokenId: 'eos_token_id' in raw ? (raw.eos_token_id as number | number[] | null) : d.eos_token_id,
    padTokenId: optionalId(raw, 'pad_token_id', null),
    quantizationConfig: (q as Record<string, unknown> | null | undefined) ?? null,
    notes,
    raw: { ...raw },
  };
  if (modelType !== 'llama' && raw.mlp_bias === true) notes.push(`mlp_bias=true ignored: ${modelType} has no MLP biases`);
  return validateModelConfig(cfg, fileName);
}

function derivedHeadDim(hidden: number, heads: number, fileName: string): number {
  if (hidden % heads !== 0) {
    throw new ConfigError('num_attention_heads', `a divisor of hidden_size (${hidden}), or an explicit head_dim`, heads, fileName);
  }
  return hidden / heads;
}

function parseRopeScaling(v: unknown, fileName: string): RopeScaling | null {
  if (v === null) return null;
  if (!isObject(v)) throw new ConfigError('rope_scaling', 'null or an object with rope_type', v, fileName);
  const type = v.rope_type ?? v.type ?? 'default';
  const allowed = ['default', 'linear', 'llama3'] as const;
  if (!allowed.includes(type as never)) {
    throw new ConfigError('rope_scaling.rope_type', `one of ${allowed.map((a) => `"${a}"`).join(', ')} (others, like yarn or dynamic, are not supported)`, type, fileName);
  }
  if (type === 'default') return null;
  const factor = checkNumber(v.factor, 'rope_scaling.factor', { min: 1 }, fileName);
  if (type === 'linear') return { type, factor };
  return {
    type: 'llama3',
    factor,
    lowFreqFactor: checkNumber(v.low_freq_factor, 'rope_scaling.low_freq_factor', { min: 0, minExclusive: true }, fileName),
    highFreqFactor: checkNumber(v.high_freq_factor, 'rope_scaling.high_freq_factor', { min: 0, minExclusive: true }, fileName),
    originalMaxPositionEmbeddings: checkInteger(v.original_max_position_embeddings, 'rope_scaling.original_max_position_embeddings', { min: 1 }, fileName),
  };
}

function parseDtype(v: unknown, fileName: string): TorchDtype | null {
  if (v == null || v === 'auto') return null;
  // Some exports write the Python repr, e.g. "torch.bfloat16".
  const name = typeof v === 'string' ? v.replace(/^torch\./, '') : v;
  return checkEnum(name, 'torch_dtype', TORCH_DTYPES, fileName);
}

function optionalId(raw: Record<string, unknown>, key: string, dflt: number | null): number | null {
  const v = key in raw ? raw[key] : dflt;
  return v == null ? null : (v as number);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
