export { AdamW, type NamedParameter, type AdamWStepOptions, type AdamWParamState, type AdamWStateDict } from './adamw';
export { ADAMW_KERNEL, adamwUniforms, type AdamWStepScalars } from './adamw-kernel';
export {
  adamwStepReference,
  type AdamWReferenceState,
  type AdamWReferenceHyper,
} from './adamw-reference';
