// SPDX-License-Identifier: MIT
// Public entry point of @heed/distributed (browsers, Web Workers, Node): the process-group
// interface, initProcessGroup, the 1-rank group, the tensor layer every transport shares, and
// the threads transport's worker side and browser launcher (spawnWorkers). No static `node:`
// import anywhere; the Node launcher is `@heed/distributed/node`.
/**
 * Data-parallel collectives for Heed: a process group over worker threads or MPI.
 *
 * @packageDocumentation
 * @module @heed/distributed
 */
export {
  initProcessGroup, envRankInfo, envVar, defaultTimeoutMs, DistributedError, REDUCE_OPS, DEFAULT_BUCKET_BYTES,
  type ProcessGroup, type ReduceOp, type GroupBackend, type HostArray, type AllReduceOptions, type BroadcastOptions,
  type ReduceScatterOptions, type InitOptions,
} from './group.js';
export { createTensorGroup, type HostTransport } from './collectives.js';
export { combineInto, finishReduce } from './reduce.js';
export { createSingleGroup } from './single.js';
export { runWorker, initThreadsGroup, inThreadsWorker, type RankFunction, type RankInfo } from './threads/worker.js';
export { SpawnError, type SpawnOptions, type RankOutcome } from './threads/launch.js';
export { spawnWorkers } from './threads/web.js';
export { adapterForRank, type AdapterSource, type AdapterChoice, type AdapterForRankOptions } from './adapter.js';
