// SPDX-License-Identifier: MIT
// The autograd graph: one GradNode per recorded op output (or per leaf that requires grad).
// Nodes are reference counted by the tensors and downstream nodes that point at them; the
// last release frees the node's saved tensors. Leaves hold only a WeakRef to their tensor.
import type { DType } from '../dtype.js';
import type { Shape } from '../shape.js';
import type { Storage } from '../storage.js';

/** A tensor kept by a node for its backward pass (holds a storage reference). */
export interface SavedTensor {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  /** Graph node of the saved tensor (retained), for higher-order gradients. */
  readonly node: GradNode | null;
  /** Storage version when saved; a mismatch means it was modified in place. */
  readonly version: number;
}

/** Shape and dtype of an op input, kept even when the input itself is not saved. */
export interface InputMeta {
  readonly shape: Shape;
  readonly dtype: DType;
}

/**
 * One recorded op (or a leaf). Internal to core.
 *
 * @example
 * ```ts
 * const y = x.mul(2); // y has a GradNode with op 'mul' and an edge to x's leaf node
 * ```
 */
export class GradNode {
  private refs = 1;
  /** True once saved tensors were freed (after backward without retainGraph). */
  savedReleased = false;
  /** Creation order: a node is always younger than its inputs (used for topological order). */
  readonly seq: number;
  private static counter = 0;

  constructor(
    readonly op: string,
    readonly edges: readonly (GradNode | null)[],
    readonly inputMeta: readonly InputMeta[],
    readonly attrs: unknown,
    private saved: { inputs: (SavedTensor | null)[]; output: SavedTensor | null },
    /** The leaf tensor this node accumulates into (null for op nodes). */
    readonly leaf: WeakRef<{ accumulateGrad(g: unknown): void; readonly isDisposed: boolean }> | null,
  ) {
    this.seq = GradNode.counter++;
    for (const e of edges) e?.retain();
  }

  /** Whether this node is a leaf (accumulates into a tensor's `.grad`). */
  get isLeaf(): boolean {
    return this.leaf !== null;
  }

  /** The saved inputs/output; throws if they were released. */
  getSaved(): { inputs: (SavedTensor | null)[]; output: SavedTensor | null } {
    return this.saved;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      this.releaseSaved();
      for (const e of this.edges) e?.release();
    }
  }

  /** Frees the saved tensors (the graph can no longer be differentiated through this node). */
  releaseSaved(): void {
    if (this.savedReleased) return;
    this.savedReleased = true;
    for (const s of this.saved.inputs) {
      s?.storage.release();
      s?.node?.release();
    }
    this.saved.output?.storage.release();
    this.saved = { inputs: [], output: null };
  }
}
