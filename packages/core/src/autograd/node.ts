// SPDX-License-Identifier: MIT
// The autograd graph: one GradNode per recorded op output (or per leaf that requires grad).
// Nodes are reference counted by the tensors and downstream nodes that point at them; the
// last release frees the node's saved tensors and lets go of a leaf's tensor. A leaf holds its
// tensor strongly (as PyTorch's AccumulateGrad does), not through a WeakRef: V8 keeps every
// WeakRef's target alive until the current job ends, and a training loop that awaits reads
// which resolve at once (the CPU backend's) runs as one job, so one WeakRef per step (fresh
// leaves, as valueAndGrad makes) grew the heap without bound.
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

/** What a leaf node accumulates into: its tensor. */
export interface LeafTarget {
  accumulateGrad(g: unknown): void;
  readonly isDisposed: boolean;
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
    leaf: LeafTarget | null,
  ) {
    this.seq = GradNode.counter++;
    this.isLeaf = leaf !== null;
    this.target = leaf;
    for (const e of edges) e?.retain();
  }

  /** Whether this node is a leaf (accumulates into a tensor's `.grad`). */
  readonly isLeaf: boolean;
  /** The leaf's tensor until the node's last release (null for op nodes). */
  private target: LeafTarget | null;

  /** The tensor this leaf accumulates into; null for an op node, or once the node was released for good. */
  get leaf(): LeafTarget | null {
    return this.target;
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
      this.target = null;
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
