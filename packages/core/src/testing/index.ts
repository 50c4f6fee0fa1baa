export { checkOp, reference, type Input, type CheckOptions, type CheckResult } from './check-op';
export { coreOps, opsOf } from './all-ops';
export { fixturesPresent, readJsonFixture, underCI } from './fixtures';
export type { CpuTensor } from '../op';
