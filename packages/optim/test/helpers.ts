/** Shared test helpers: seeded host data and error measures against float64 references. */
import { Rng } from '@q/core';

export function randomData(n: number, seed: number, std = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => std * rng.normal());
}

/** max |got − want| / max |want|: error relative to the array's scale. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    s = Math.max(s, Math.abs(want[i]!));
  }
  return d / Math.max(s, 1e-30);
}

/** Elementwise differences (got − base) in float64. */
export function delta(got: ArrayLike<number>, base: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: base.length }, (_, i) => got[i]! - base[i]!);
}
