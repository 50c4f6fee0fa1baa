// CPU half of @q/nf4: no GPU import anywhere below, so it runs in plain Node or a browser.
export { NF4_CODE, FP4_CODE, QUANT_TYPES, nf4Code, fp4Code, quantMapFor, type QuantType } from './codebooks';
export { createDynamicMap, linspaceF32 } from './dynamic-map';
export { quantize8bitValue, quantizeBlockwise8bit, dequantizeBlockwise8bit, type Blockwise8bit } from './blockwise-8bit';
export { ORIGIN_DTYPES, roundToBfloat16, roundToFloat16, roundToDtype, type OriginDtype } from './origin-dtype';
export {
  BLOCKSIZES,
  NESTED_BLOCKSIZE,
  type QuantizedTensor,
  type PlainQuantizedTensor,
  type DoubleQuantizedTensor,
} from './quantized-tensor';
export { QUANTIZE_DEFAULTS, validateQuantizeOptions, type QuantizeOptions } from './quantize-options';
export { quantizeNF4, quantize4bit } from './quantize';
export { dequantizeNF4, dequantize4bit, dequantizeAbsmax } from './dequantize';
export { packedU32View, bitsPerParameter } from './packed-view';
export { type RawTensor, type RawTensorLike, type RawDtype } from './raw-tensor';
export { encodeQuantStateJson, type BnbQuantStateJson } from './bnb-quant-state';
export { toBnbTensors, fromBnbTensors, type QuantStorage } from './bnb-tensors';
export { pythonFloatRepr } from './python-float';
export {
  BNB_CONFIG_DEFAULTS,
  QLORA_BNB_CONFIG,
  validateBitsAndBytesConfig,
  toQuantizationConfigJson,
  type BitsAndBytesConfig,
  type ComputeDtype,
} from './bnb-config';

// GPU half (Nf4Weight, quantizeOnGpu, dequantizeOnGpu, nf4Linear): imports only @q/core, so the
// package still loads in plain Node or a browser; nothing touches a device until it is called.
export * from './gpu-index';
