/** LoRA scaling and per-module rank/alpha, as peft's LoraLayer.update_layer computes them. */
import { ValueError } from '@q/core';
import type { LoraConfig } from './lora-config';
import { compilePythonRegex } from './python-regex';

/**
 * The factor the update B·A is multiplied by: `loraAlpha / r`, or `loraAlpha / sqrt(r)` with
 * rank-stabilized LoRA (Kalajdzievski 2023, peft's `use_rslora`).
 *
 * @example
 * ```ts
 * scaling({ loraAlpha: 32, useRslora: false }, 64) // 0.5
 * scaling({ loraAlpha: 16, useRslora: true }, 64)  // 2
 * ```
 */
export function scaling(cfg: Pick<LoraConfig, 'loraAlpha' | 'useRslora'>, r: number): number {
  if (!(r > 0)) throw new ValueError(`scaling: rank must be > 0, got ${r}`);
  return cfg.useRslora ? cfg.loraAlpha / Math.sqrt(r) : cfg.loraAlpha / r;
}

/**
 * The first key of `pattern` that matches `moduleName` as peft's get_pattern_key does
 * (`re.match(rf"(.*\.)?({key})$", name)`), or undefined.
 */
export function patternKeyFor(pattern: Record<string, number>, moduleName: string): string | undefined {
  return Object.keys(pattern).find((key) =>
    compilePythonRegex(`(.*\\.)?(${key})$`, 'rankPattern/alphaPattern key', 'LoraConfig', 'start').test(moduleName),
  );
}

/**
 * Rank, alpha and scaling of the adapter on `moduleName`, with `rankPattern` / `alphaPattern`
 * overrides applied.
 *
 * @example
 * ```ts
 * const cfg = validateLoraConfig({ r: 8, lora_alpha: 16, rank_pattern: { v_proj: 4 } })
 * moduleLoraParams('model.layers.0.self_attn.v_proj', cfg) // { r: 4, alpha: 16, scaling: 4 }
 * ```
 */
export function moduleLoraParams(
  moduleName: string,
  cfg: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora' | 'rankPattern' | 'alphaPattern'>,
): { r: number; alpha: number; scaling: number } {
  const rKey = patternKeyFor(cfg.rankPattern, moduleName);
  const aKey = patternKeyFor(cfg.alphaPattern, moduleName);
  const r = rKey === undefined ? cfg.r : cfg.rankPattern[rKey];
  const alpha = aKey === undefined ? cfg.loraAlpha : cfg.alphaPattern[aKey];
  return { r, alpha, scaling: scaling({ loraAlpha: alpha, useRslora: cfg.useRslora }, r) };
}
