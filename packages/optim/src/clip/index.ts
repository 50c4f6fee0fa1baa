export { clipGradNorm, scaleGradsInPlace, GradClip, type ClipGradNormOptions } from './clip-grad-norm';
export { clipGradNormReference } from './clip-reference';
