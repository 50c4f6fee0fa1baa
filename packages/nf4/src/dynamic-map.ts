/**
 * bitsandbytes' signed 8-bit dynamic map (`create_dynamic_map(signed=True)`), the code book of
 * double quantization: 127 negative values, 0, and 128 positive values up to 1.0, with a
 * decimal exponent that shrinks from 1 to 1e-6 so small absmax deviations keep precision.
 */

const f = Math.fround;

/**
 * torch.linspace(start, end, steps) in float32, as the torch CPU kernel computes it: the first
 * half counts up from `start`, the second half counts down from `end`.
 *
 * NOTE: `start + step * i` is evaluated as ONE rounding (a fused multiply-add). x86 builds of
 * torch compile this kernel with FMA contraction, and the resulting map (checked against a table
 * dumped from torch) differs in 42 of 256 entries from two separate float32 roundings. The
 * double-precision sum here is exact (every term is a multiple of 2^-30 below 2), so rounding it
 * once to float32 is exactly the FMA.
 */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const s = f(start);
  const e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const out = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? f(s + step * i) : f(e - step * (steps - i - 1));
  }
  return out;
}

/**
 * The 256-entry signed dynamic map, sorted ascending, exactly as bitsandbytes builds it in
 * float32: for exponent i in 0..6, the means of neighbouring points of linspace(0.1, 1, 2^i + 1)
 * scaled by 10^(i-6) (the scale rounded to float32 first, as torch casts the Python scalar),
 * each with its negative; then 0 and 1.
 *
 * @example
 * ```ts
 * const map = createDynamicMap()
 * map[127] // 0
 * map[255] // 1
 * ```
 */
export function createDynamicMap(): Float32Array {
  // Literals rather than 10 ** k: JS pow is not guaranteed correctly rounded.
  const scales = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];
  const data: number[] = [];
  for (let i = 0; i < scales.length; i++) {
    const bounds = linspaceF32(0.1, 1, 2 ** i + 1);
    const scale = f(scales[i]);
    const means: number[] = [];
    for (let j = 0; j + 1 < bounds.length; j++) means.push(f(f(bounds[j] + bounds[j + 1]) / 2));
    for (const m of means) data.push(f(scale * m));
    for (const m of means) data.push(f(-scale * m));
  }
  data.push(0, 1);
  data.sort((a, b) => a - b);
  return Float32Array.from(data);
}

let cached: Float32Array | undefined;

/** A shared read-only dynamic map; copy it before handing it to a caller who may mutate it. */
export function dynamicMap(): Float32Array {
  cached ??= createDynamicMap();
  return cached;
}
