/**
 * The safetensors dtype table: names, widths, and the rank the reference writer sorts by.
 * Order follows the `Dtype` enum in huggingface/safetensors (safetensors/src/tensor.rs), which is
 * declared "in increasing alignment order"; the writer puts higher ranks first.
 */
export const SAFETENSORS_DTYPES = [
  'BOOL', 'F4', 'F6_E2M3', 'F6_E3M2', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0',
  'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64',
] as const;

/** A dtype name as written in a safetensors header. */
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const BITS: Record<SafetensorsDtype, number> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
};

/** True when `s` names a safetensors dtype. */
export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && (SAFETENSORS_DTYPES as readonly string[]).includes(s);
}

/** Bits per element (4 and 6 for the packed micro-float formats). */
export function dtypeBits(dtype: SafetensorsDtype): number {
  return BITS[dtype];
}

/** Rank in the reference enum; the writer sorts descending by it, then by name. */
export function dtypeRank(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES.indexOf(dtype);
}

/**
 * Bytes that `numel` elements take, or undefined when they do not fill whole bytes
 * (a packed F4 tensor of odd length, for instance).
 */
export function dtypeByteLength(dtype: SafetensorsDtype, numel: number): number | undefined {
  const bits = numel * BITS[dtype];
  return bits % 8 === 0 ? bits / 8 : undefined;
}
