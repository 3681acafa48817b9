// SPDX-License-Identifier: MIT
// The slice of a process group that DistributedDataParallel needs, as a structural type:
// @heed/distributed's ProcessGroup satisfies it, so @heed/nn does not depend on that package.
import type { Tensor } from '@heed/core';

/**
 * The reductions DistributedDataParallel asks of a group (a subset of @heed/distributed's `ReduceOp`).
 *
 * @example
 * ```ts
 * const op: GradReduceOp = 'mean';
 * ```
 */
export type GradReduceOp = 'sum' | 'mean';

/**
 * What {@link DistributedDataParallel} needs from a process group (structural; `@heed/distributed`'s
 * `ProcessGroup` satisfies it). Collectives work in place on leaf tensors, combine ranks in a fixed
 * order so every rank gets identical values, and must be called in the same order on every rank.
 *
 * @example
 * ```ts
 * const group: ProcessGroupLike = await initProcessGroup(); // from @heed/distributed
 * const ddp = await DistributedDataParallel.create(model, group);
 * ```
 */
export interface ProcessGroupLike {
  /** This rank, 0..worldSize-1. */
  readonly rank: number;
  /** Number of ranks. */
  readonly worldSize: number;
  /** Reduces each tensor over all ranks, in place. */
  allReduce(tensors: readonly Tensor[], options?: { op?: GradReduceOp }): Promise<void>;
  /** Replaces each tensor's values with rank `src`'s, in place. */
  broadcast(tensors: readonly Tensor[], options?: { src?: number }): Promise<void>;
}
