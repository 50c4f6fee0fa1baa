// GPU half of @q/nf4: 4-bit weights resident on a WebGPU device, quantize/dequantize kernels and
// the fused NF4 linear op.
export { Nf4Weight, type Nf4WeightParts, type NestedAbsmax } from './gpu/nf4-weight';
export { quantizeOnGpu, type GpuQuantizeOptions } from './gpu/quantize-gpu';
export { dequantizeOnGpu } from './gpu/dequantize-gpu';
export { nf4Linear, nf4LinearBackward, type Nf4LinearAttrs } from './gpu/nf4-linear';
export { thresholdTree, codeFromTree, type ThresholdTree } from './gpu/code-thresholds';
