/** Releases the shared WebGPU device if one was opened, so the process can exit. */
import { device } from '@q/core';

export function disposeDevice(): void {
  try {
    device().dispose();
  } catch {
    // No device was opened (e.g. --help): nothing to release.
  }
}
