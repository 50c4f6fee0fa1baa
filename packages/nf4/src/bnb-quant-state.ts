/**
 * The packed quant state bitsandbytes stores as a U8 tensor `weight.quant_state.bitsandbytes__nf4`:
 * the UTF-8 bytes of `json.dumps` of the non-tensor fields of `QuantState.as_dict(packed=True)`.
 */
import type { QuantType } from './codebooks';
import type { OriginDtype } from './origin-dtype';
import { pythonFloatRepr } from './python-float';

/** The non-tensor fields of a bitsandbytes QuantState, in the order `as_dict` emits them. */
export interface BnbQuantStateJson {
  quant_type: QuantType;
  blocksize: number;
  dtype: OriginDtype;
  shape: number[];
  nested_blocksize?: number;
  nested_dtype?: 'float32';
  nested_offset?: number;
}

/** Keys bitsandbytes may write in the packed quant state. */
export const QUANT_STATE_JSON_KEYS: readonly string[] = [
  'quant_type', 'blocksize', 'dtype', 'shape', 'nested_blocksize', 'nested_dtype', 'nested_offset',
];

/**
 * Python `json.dumps(d)` of the quant state: `", "` and `": "` separators, ints without a
 * fraction, the offset as Python's float repr (`0.5`, `1.0`, `1e-05`).
 *
 * @example
 * ```ts
 * encodeQuantStateJson({ quant_type: 'nf4', blocksize: 64, dtype: 'float16', shape: [2, 64] })
 * // '{"quant_type": "nf4", "blocksize": 64, "dtype": "float16", "shape": [2, 64]}'
 * ```
 */
export function encodeQuantStateJson(s: BnbQuantStateJson): string {
  const parts = [
    `"quant_type": ${JSON.stringify(s.quant_type)}`,
    `"blocksize": ${int(s.blocksize)}`,
    `"dtype": ${JSON.stringify(s.dtype)}`,
    `"shape": [${s.shape.map(int).join(', ')}]`,
  ];
  if (s.nested_blocksize !== undefined) {
    parts.push(
      `"nested_blocksize": ${int(s.nested_blocksize)}`,
      `"nested_dtype": ${JSON.stringify(s.nested_dtype ?? 'float32')}`,
      `"nested_offset": ${pythonFloatRepr(s.nested_offset ?? 0)}`,
    );
  }
  return `{${parts.join(', ')}}`;
}

function int(v: number): string {
  return BigInt(v).toString();
}
