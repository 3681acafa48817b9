// SPDX-License-Identifier: MIT
// Data parallelism: DistributedDataParallel and the process-group shape it needs.
export { DistributedDataParallel, type DistributedDataParallelOptions } from './ddp.js';
export { type ProcessGroupLike, type GradReduceOp } from './group-like.js';
