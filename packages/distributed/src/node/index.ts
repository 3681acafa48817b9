// SPDX-License-Identifier: MIT
// Public entry point of @heed/distributed/node (Node.js only): everything of
// `@heed/distributed`, plus the worker_threads launcher of the threads transport.
/**
 * The Node.js entry of @heed/distributed: everything of `@heed/distributed`, plus `spawnThreads`, the worker_threads launcher.
 *
 * @packageDocumentation
 * @module @heed/distributed/node
 */
export * from '../index.js';
export { spawnThreads, cpuThreadsPerRank } from './spawn.js';
export { mpiAvailable, mpiAddonPath, MPI_SETUP_HINT } from '../mpi/addon.js';
