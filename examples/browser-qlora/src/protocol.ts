/** Messages between the page (main.ts) and the training worker (worker.ts). */
import type { MemoryPlan } from './memory-plan';
import type { Settings } from './settings';

export interface Answer {
  question: string;
  answer: string;
  reference: string;
}

export type ToWorker =
  | { type: 'start'; model: File[]; dataset: File; settings: Settings }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'chat'; message: string }
  | { type: 'download'; what: 'adapter' | 'merged' }
  | { type: 'forget' };

export type FromWorker =
  | { type: 'status'; text: string }
  | { type: 'adapter'; text: string }
  | { type: 'plan'; plan: MemoryPlan }
  | { type: 'refused'; reasons: string[] }
  | { type: 'loaded'; trainRows: number; testRows: number; trainable: number; all: number; resumeStep: number | null }
  | { type: 'progress'; step: number; maxSteps: number; loss: number; tokensPerSecond: number; secondsLeft: number; paused: boolean }
  | { type: 'log'; step: number; loss?: number; evalLoss?: number }
  /** Training is held after this step (pause took effect). */
  | { type: 'held'; step: number }
  | { type: 'answers'; phase: 'before' | 'after'; answers: Answer[] }
  | { type: 'trained'; steps: number; seconds: number; stopped: boolean }
  | { type: 'chat'; reply: string }
  | { type: 'file'; name: string; bytes: Uint8Array }
  | { type: 'error'; message: string };
