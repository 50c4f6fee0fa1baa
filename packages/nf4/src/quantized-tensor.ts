/**
 * The in-memory form of a 4-bit tensor: what bitsandbytes' `Params4bit` + `QuantState` hold.
 */
import { ConfigError } from '@q/core';
import type { QuantType } from './codebooks';
import type { OriginDtype } from './origin-dtype';

interface QuantizedBase {
  /** 4-bit data type. */
  quantType: QuantType;
  /** Values per absmax block (a power of two, 32..4096). */
  blocksize: number;
  /** Logical shape of the original tensor; its product is the element count. */
  shape: number[];
  /** dtype of the original tensor; dequantization rounds to it. */
  dtype: OriginDtype;
  /**
   * Two 4-bit codes per byte, element 2k in the HIGH nibble of byte k, element 2k+1 in the low
   * nibble; length ceil(n/2). For odd n the last low nibble is the code of a padding zero.
   */
  packed: Uint8Array;
  /** The 16 code values (NF4 or FP4 code book), float32. */
  quantMap: Float32Array;
}

/** A 4-bit tensor with one float32 absmax per block. */
export interface PlainQuantizedTensor extends QuantizedBase {
  doubleQuant: false;
  /** float32 max |value| per block; length ceil(n/blocksize). */
  absmax: Float32Array;
}

/**
 * A 4-bit tensor whose absmax is itself quantized (bitsandbytes' `compress_statistics`):
 * absmax[i] ~ nestedQuantMap[absmax8[i]] * nestedAbsmax[i / nestedBlocksize] + offset.
 */
export interface DoubleQuantizedTensor extends QuantizedBase {
  doubleQuant: true;
  /** One 8-bit index into `nestedQuantMap` per block; length ceil(n/blocksize). */
  absmax: Uint8Array;
  /** float32 max |absmax - offset| per nested block; length ceil(blocks/nestedBlocksize). */
  nestedAbsmax: Float32Array;
  /** The 256-entry signed dynamic map. */
  nestedQuantMap: Float32Array;
  /** Blocks per nested block (256 in bitsandbytes). */
  nestedBlocksize: number;
  /** float32 mean of the absmax values, subtracted before nested quantization. */
  offset: number;
}

/** A 4-bit quantized tensor, bit-compatible with bitsandbytes. */
export type QuantizedTensor = PlainQuantizedTensor | DoubleQuantizedTensor;

/** Blocksizes bitsandbytes accepts for 4-bit quantization. */
export const BLOCKSIZES: readonly number[] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

/** The nested blocksize bitsandbytes uses for double quantization. */
export const NESTED_BLOCKSIZE = 256;

/** Throw a ConfigError unless `blocksize` is one of {@link BLOCKSIZES}. */
export function checkBlocksize(blocksize: unknown, field = 'blocksize', source?: string): number {
  if (typeof blocksize !== 'number' || !BLOCKSIZES.includes(blocksize)) {
    throw new ConfigError(field, `one of ${BLOCKSIZES.join(', ')}`, blocksize, source);
  }
  return blocksize;
}

/** Number of elements of a shape (1 for a scalar shape []). */
export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
