export { checkOp, reference, type Input, type CheckOptions, type CheckResult } from './check-op';
export { coreOps, opsOf } from './all-ops';
export type { CpuTensor } from '../op';
