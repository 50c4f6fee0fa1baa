/** Test data for the GPU quantizer: seeded normals and adversarial blocks. */
import { normalData } from '../test-reference';
import { FP4_CODE, NF4_CODE } from '../codebooks';

/**
 * n values in blocks of `blocksize`, cycling through: normal data, all zeros, a constant, ±huge
 * (near float32 max), subnormals, mixed magnitudes (1e20 next to 1e-19, so v/absmax is subnormal), codes times absmax
 * exactly (decision-tree edges) and a lone nonzero.
 */
export function adversarial(n: number, blocksize: number, seed = 7): Float32Array {
  const base = normalData(n, seed);
  const out = new Float32Array(n);
  for (let s = 0, b = 0; s < n; s += blocksize, b++) {
    const e = Math.min(s + blocksize, n);
    for (let i = s; i < e; i++) {
      const r = base[i]!;
      const j = i - s;
      switch (b % 9) {
        case 0: out[i] = r; break;
        case 1: out[i] = 0; break;
        case 2: out[i] = -2.5; break;
        case 3: out[i] = Math.tanh(r) * 3.4e38; break;
        case 4: out[i] = r * 1e-40; break;
        case 5: out[i] = r * (j % 3 === 0 ? 1e20 : j % 3 === 1 ? 1e-19 : 1e-30); break; // x ~ 1e-39: subnormal
        case 6: out[i] = j === 0 ? 3 : 3 * (j % 2 ? NF4_CODE : FP4_CODE)[j % 16]! * (1 + ((j >> 4) - 1) * 1e-7); break;
        case 7: out[i] = j === 5 ? -1e-3 : 0; break;
        default: out[i] = r * 2 ** ((i % 40) - 20);
      }
    }
  }
  return out;
}

export { normalData };
