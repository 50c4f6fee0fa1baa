/**
 * Options of {@link quantizeNF4}: one interface, defaults in one place, one validator.
 */
import { ConfigError, normalizeKeys } from '@q/core';
import { QUANT_TYPES, type QuantType } from './codebooks';
import { ORIGIN_DTYPES, type OriginDtype } from './origin-dtype';
import { checkBlocksize } from './quantized-tensor';

/** How to quantize a tensor to 4 bits. */
export interface QuantizeOptions {
  /** Values per absmax block: a power of two from 32 to 4096. Default 64 (bitsandbytes'). */
  blocksize?: number;
  /** 4-bit data type. Default 'nf4'. */
  quantType?: QuantType;
  /** Quantize the absmax values too (bitsandbytes' `compress_statistics`). Default false. */
  doubleQuant?: boolean;
  /** Logical shape; its product must equal the data length. Default [data.length]. */
  shape?: number[];
  /**
   * dtype the weights came from. Values are first rounded to it (bitsandbytes quantizes the
   * float16/bfloat16 tensor itself) and it is recorded in the quant state. Default 'float32'.
   */
  dtype?: OriginDtype;
}

/** {@link QuantizeOptions} with every field filled in. */
export type ResolvedQuantizeOptions = Required<Omit<QuantizeOptions, 'shape'>> & { shape?: number[] };

/** Defaults of {@link QuantizeOptions}. */
export const QUANTIZE_DEFAULTS: Readonly<Required<Omit<QuantizeOptions, 'shape'>>> = {
  blocksize: 64,
  quantType: 'nf4',
  doubleQuant: false,
  dtype: 'float32',
};

/**
 * Fill defaults and check every field; errors name the field and the allowed values.
 *
 * @example
 * ```ts
 * validateQuantizeOptions({ blocksize: 128 }).quantType // 'nf4'
 * ```
 */
export function validateQuantizeOptions(opts: QuantizeOptions = {}): ResolvedQuantizeOptions {
  // Unknown keys (e.g. bitsandbytes' `compress_statistics`) are refused with a suggestion.
  const given = normalizeKeys(opts ?? {}, ['blocksize', 'quantType', 'doubleQuant', 'shape', 'dtype'], 'quantizeNF4', {
    aliases: { compress_statistics: 'doubleQuant', quant_type: 'quantType', bnb_4bit_use_double_quant: 'doubleQuant', bnb_4bit_quant_type: 'quantType' },
  }) as QuantizeOptions;
  const o = { ...QUANTIZE_DEFAULTS, ...stripUndefined(given) };
  checkBlocksize(o.blocksize, 'blocksize', 'quantizeNF4');
  if (!QUANT_TYPES.includes(o.quantType)) {
    throw new ConfigError('quantType', QUANT_TYPES.map((t) => `'${t}'`).join(' or '), o.quantType, 'quantizeNF4');
  }
  if (typeof o.doubleQuant !== 'boolean') {
    throw new ConfigError('doubleQuant', 'true or false', o.doubleQuant, 'quantizeNF4');
  }
  if (!ORIGIN_DTYPES.includes(o.dtype)) {
    throw new ConfigError('dtype', ORIGIN_DTYPES.map((t) => `'${t}'`).join(', '), o.dtype, 'quantizeNF4');
  }
  if (o.shape !== undefined) {
    const ok = Array.isArray(o.shape) && o.shape.every((d) => Number.isInteger(d) && d >= 0);
    if (!ok) throw new ConfigError('shape', 'an array of non-negative integers', o.shape, 'quantizeNF4');
  }
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
