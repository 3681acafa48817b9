// SPDX-License-Identifier: MIT
// The 1-rank process group: what a program gets when it is not launched by spawnThreads or
// mpirun, so the same training script runs unchanged alone. Every collective is the identity
// (a reduction over one rank is that rank's values; mean divides by 1), with the same
// validation as the other transports.
import { createTensorGroup, type HostTransport } from './collectives.js';
import type { HostArray, ProcessGroup } from './group.js';

/**
 * A process group of one rank (rank 0, world size 1, backend `'single'`).
 *
 * @example
 * ```ts
 * const group = createSingleGroup();
 * await group.allReduce([grad], { op: 'mean' }); // unchanged
 * ```
 */
export function createSingleGroup(): ProcessGroup {
  const transport: HostTransport = {
    rank: 0,
    worldSize: 1,
    backend: 'single',
    allReduce: async () => {},
    broadcast: async () => {},
    allGather: async (data: HostArray, out: HostArray) => { out.set(data); },
    reduceScatter: async (data: HostArray, _op, out: HostArray) => { out.set(data); },
    barrier: async () => {},
    destroy: async () => {},
  };
  return createTensorGroup(transport);
}
