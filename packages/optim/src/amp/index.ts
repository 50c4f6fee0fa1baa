export { GradScaler, type GradScalerOptions, type GradScalerState } from './grad-scaler';
