import { checkBoolean, checkEnum, checkInteger, checkNumber, ConfigError } from '@q/core';
import { MODEL_TYPES, TORCH_DTYPES, type ModelConfig } from './model-config';

/**
 * Checks a normalized config (parsed, or built in code for a test model). Errors name the
 * field (in config.json spelling) and the allowed values.
 *
 * @example
 * ```ts
 * validateModelConfig({ ...cfg, numKeyValueHeads: 3 }) // ConfigError: num_key_value_heads must divide 14
 * ```
 */
export function validateModelConfig(cfg: ModelConfig, source = 'ModelConfig'): ModelConfig {
  checkEnum(cfg.modelType, 'model_type', MODEL_TYPES, source);
  const pos = { min: 1 };
  checkInteger(cfg.vocabSize, 'vocab_size', pos, source);
  checkInteger(cfg.hiddenSize, 'hidden_size', pos, source);
  checkInteger(cfg.intermediateSize, 'intermediate_size', pos, source);
  checkInteger(cfg.numHiddenLayers, 'num_hidden_layers', pos, source);
  checkInteger(cfg.numAttentionHeads, 'num_attention_heads', pos, source);
  checkInteger(cfg.numKeyValueHeads, 'num_key_value_heads', pos, source);
  if (cfg.numAttentionHeads % cfg.numKeyValueHeads !== 0) {
    throw new ConfigError('num_key_value_heads', `a divisor of num_attention_heads (${cfg.numAttentionHeads})`, cfg.numKeyValueHeads, source);
  }
  checkInteger(cfg.headDim, 'head_dim', pos, source);
  if (cfg.headDim % 2 !== 0) throw new ConfigError('head_dim', 'an even integer (RoPE rotates pairs)', cfg.headDim, source);
  checkEnum(cfg.hiddenAct, 'hidden_act', ['silu'] as const, source);
  checkInteger(cfg.maxPositionEmbeddings, 'max_position_embeddings', pos, source);
  checkNumber(cfg.rmsNormEps, 'rms_norm_eps', { min: 0, minExclusive: true, max: 1 }, source);
  checkNumber(cfg.ropeTheta, 'rope_theta', { min: 0, minExclusive: true }, source);
  const rs = cfg.ropeScaling;
  if (rs !== null) {
    checkEnum(rs.type, 'rope_scaling.rope_type', ['linear', 'llama3'] as const, source);
    checkNumber(rs.factor, 'rope_scaling.factor', { min: 1 }, source);
    if (rs.type === 'llama3') {
      checkNumber(rs.lowFreqFactor, 'rope_scaling.low_freq_factor', { min: 0, minExclusive: true }, source);
      checkNumber(rs.highFreqFactor, 'rope_scaling.high_freq_factor', { min: 0, minExclusive: true }, source);
      if (rs.highFreqFactor <= rs.lowFreqFactor) {
        throw new ConfigError('rope_scaling.high_freq_factor', `a number > low_freq_factor (${rs.lowFreqFactor})`, rs.highFreqFactor, source);
      }
      checkInteger(rs.originalMaxPositionEmbeddings, 'rope_scaling.original_max_position_embeddings', pos, source);
    }
  }
  checkBoolean(cfg.qkvBias, 'attention_bias', source);
  checkBoolean(cfg.oBias, 'attention_bias', source);
  checkBoolean(cfg.mlpBias, 'mlp_bias', source);
  checkBoolean(cfg.tieWordEmbeddings, 'tie_word_embeddings', source);
  if (cfg.torchDtype !== null) checkEnum(cfg.torchDtype, 'torch_dtype', TORCH_DTYPES, source);
  for (const [field, v] of [['bos_token_id', cfg.bosTokenId], ['pad_token_id', cfg.padTokenId]] as const) {
    if (v !== null) checkInteger(v, field, { min: 0, max: cfg.vocabSize - 1 }, source);
  }
  for (const id of cfg.eosTokenId === null ? [] : [cfg.eosTokenId].flat()) {
    checkInteger(id, 'eos_token_id', { min: 0, max: cfg.vocabSize - 1 }, source);
  }
  return cfg;
}
