// SPDX-License-Identifier: MIT
// The Adam update and fused training attention on a native provider (native.ts). Each returns
// null when the provider lacks the kernel or declines, so the backend runs its own kernel.
import type { AdamScalars, DataId, StridedView } from '@heed/core';
import type { NativeProvider } from './native.js';
import type { FastRuntime } from './runtime.js';

/**
 * One Adam/AdamW step into new buffers `[param, m, v]`, or null to fall back.
 *
 * @example
 * ```ts
 * nativeAdam(rt, provider, p, g, m, v, step) ?? fastAdamPath();
 * ```
 */
export function nativeAdam(rt: FastRuntime, native: NativeProvider, param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars): [DataId, DataId, DataId] | null {
  void rt; void native; void param; void grad; void expAvg; void expAvgSq; void step;
  return null;
}
