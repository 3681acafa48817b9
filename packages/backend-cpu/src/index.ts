// SPDX-License-Identifier: MIT
// Public entry point of @heed/backend-cpu: the CpuBackend class and its factory. Importing
// this module registers nothing (no side effects); call registerBackend(cpuBackend) yourself.
import type { BackendFactory } from '@heed/core';
import { CpuBackend, type CpuBackendOptions } from './backend.js';

export { CpuBackend, type CpuBackendOptions, type CpuFastInfo } from './backend.js';
export { type FastHeapStats } from './fast/heap.js';

/**
 * Creates a new, independent CPU backend instance (fast path on by default; see
 * {@link CpuBackendOptions}).
 *
 * @example
 * ```ts
 * import { createCpuBackend } from '@heed/backend-cpu';
 * const cpu = createCpuBackend();
 * const id = cpu.upload(new Float32Array([1, 2, 3]), 'float32');
 * cpu.readSync(id, 'float32', 3); // Float32Array [1, 2, 3]
 * const reference = createCpuBackend({ fast: false }); // plain JS kernels only
 * ```
 */
export function createCpuBackend(options: CpuBackendOptions = {}): CpuBackend {
  return new CpuBackend(options);
}

/**
 * The factory to register with core: name `'cpu'`, priority 1 (GPU backends rank higher).
 *
 * @example
 * ```ts
 * import { registerBackend, setBackend } from '@heed/core';
 * import { cpuBackend } from '@heed/backend-cpu';
 * registerBackend(cpuBackend);
 * await setBackend('cpu');
 * ```
 */
export const cpuBackend: BackendFactory = {
  name: 'cpu',
  priority: 1,
  create: () => new CpuBackend(),
};
export { type NativeKernels, type NativeProvider } from './fast/native.js';
export { MATMUL_ACTIVATION, MATMUL_EPILOGUE } from './fast/native-matmul.js';
export { NATIVE_REDUCE } from './fast/native-rows.js';
