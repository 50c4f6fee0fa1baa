// Quantizes a weight to NF4 on the CPU with @q/nf4 installed alone (no GPU, no `webgpu` package)
// and checks the round trip against the NF4 code's worst-case error: half the widest gap between
// neighbouring code values, times each block's absmax.
import { quantizeNF4, dequantizeNF4, bitsPerParameter, NF4_CODE } from '@q/nf4';

const n = 64 * 256;
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
const w = Float32Array.from({ length: n }, rand);
const q = quantizeNF4(w, { blocksize: 64, doubleQuant: true, shape: [256, 64], dtype: 'float32' });
const back = dequantizeNF4(q);
let gap = 0;
for (let i = 1; i < NF4_CODE.length; i++) gap = Math.max(gap, NF4_CODE[i] - NF4_CODE[i - 1]);
let worst = 0;
for (let b = 0; b < n / 64; b++) {
  let absmax = 0;
  for (let i = b * 64; i < (b + 1) * 64; i++) absmax = Math.max(absmax, Math.abs(w[i]));
  for (let i = b * 64; i < (b + 1) * 64; i++) worst = Math.max(worst, Math.abs(back[i] - w[i]) / (absmax * (gap / 2) * 1.01 + 1e-3));
}
const bits = bitsPerParameter(q);
console.log(`nf4 on the CPU: ${n} values, ${bits.toFixed(3)} bits/parameter, worst error ${worst.toFixed(3)} of the bound`);
if (!(worst <= 1) || !(bits > 4 && bits < 4.2)) process.exit(1);

// Without the optional `webgpu` package, asking for a GPU says what to install (it is imported
// lazily, so everything above never needed it).
const { getDevice } = await import('@q/core');
const err = await getDevice().then(
  () => null,
  (e) => e,
);
if (!err || !/'webgpu' package could not be loaded/.test(err.message)) {
  console.error(`getDevice() without webgpu: expected a clear error, got ${err ? err.message : 'a device'}`);
  process.exit(1);
}
console.log(`getDevice() without webgpu: "${err.message.slice(0, 90)}..."`);
