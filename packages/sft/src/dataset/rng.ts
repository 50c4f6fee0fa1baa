/**
 * Seeded permutations for Dataset.shuffle and trainTestSplit. Integer-only arithmetic (sfc32
 * seeded through splitmix32), so a seed gives the same order in every JS engine, Node or browser.
 * It does not reproduce numpy's PCG64 order, so `shuffle({ seed: 42 })` here and
 * `datasets.shuffle(seed=42)` pick different rows.
 */

/** A generator of uniform floats in [0, 1) with 53 random bits. */
export type Random = () => number;

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator) with its state filled from `seed`
 * by splitmix32.
 *
 * @example
 * ```ts
 * const rand = seededRandom(42); rand() // same value on every run
 * ```
 */
export function seededRandom(seed: number): Random {
  let s = (seed >>> 0) ^ Math.floor(seed / 0x1_0000_0000);
  const splitmix = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next(); // warm-up as the sfc32 reference does
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}

/**
 * A uniformly random permutation of 0..n-1 (Fisher–Yates, "inside-out" not needed: in place).
 *
 * @example
 * ```ts
 * permutation(5, seededRandom(0)) // e.g. [3, 0, 4, 1, 2]
 * ```
 */
export function permutation(n: number, random: Random): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
