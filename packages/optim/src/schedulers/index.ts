export { lrSchedule, type LrScheduleFn } from './lr-schedule';
export { resolveWarmupSteps } from './warmup';
export {
  SCHEDULER_TYPES,
  SCHEDULER_KWARGS,
  type SchedulerType,
  type LrScheduleOptions,
  type WsdPhaseType,
} from './types';
