export { ADAMW_DEFAULTS, validateAdamWConfig, type AdamWConfig } from './adamw-config';
export { OPTIM_NAMES, resolveOptim, type OptimName, type ResolvedOptim } from './optim-name';
