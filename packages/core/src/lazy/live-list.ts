// SPDX-License-Identifier: MIT
// The lazy backend's live buffers (not yet dropped), in recording order, as a doubly linked list
// threaded through the LazyBuffers themselves. Why not a Set: a training step adds and deletes
// hundreds of nodes, so a Set's hash table is rebuilt many times per step; once a table has
// lived through two young-generation collections it sits in V8's old space, and when it is
// replaced the dead old table still points at every node it held. V8's scavenger treats every
// old-to-young pointer as a root without knowing whether its holder is alive, so those nodes —
// and the pending graph behind them — were copied and then promoted to old space, where only a
// full collection frees them (in lazy mode most of the JS heap's growth and peak RSS over a long
// run). A list node's links are cleared when it leaves, so a dropped buffer points at nothing.
// The CSE table is kept on the buffers for the same reason (graph.ts's `readers`).
import type { LazyBuffer } from './graph.js';

/**
 * The live LazyBuffers in the order they were added; add/delete are O(1) and idempotent.
 *
 * @example
 * ```ts
 * const live = new LiveList();
 * live.add(b);
 * for (let c = live.first; c !== null; c = c.nextLive) visit(c);
 * live.delete(b);
 * ```
 */
export class LiveList {
  /** The earliest-added buffer still on the list (walk on through `nextLive`). */
  first: LazyBuffer | null = null;
  private last: LazyBuffer | null = null;

  /** Appends `b` (no-op when it is on the list). */
  add(b: LazyBuffer): void {
    if (b.inLive) return;
    b.inLive = true;
    b.prevLive = this.last;
    b.nextLive = null;
    if (this.last === null) this.first = b;
    else this.last.nextLive = b;
    this.last = b;
  }

  /** Unlinks `b` and clears its links (no-op when it is not on the list). */
  delete(b: LazyBuffer): void {
    if (!b.inLive) return;
    b.inLive = false;
    const prev = b.prevLive, next = b.nextLive;
    if (prev === null) this.first = next;
    else prev.nextLive = next;
    if (next === null) this.last = prev;
    else next.prevLive = prev;
    b.prevLive = null;
    b.nextLive = null;
  }

  /** The buffers on the list now, in order (a copy: safe to change the list while visiting it). */
  toArray(): LazyBuffer[] {
    const out: LazyBuffer[] = [];
    for (let c = this.first; c !== null; c = c.nextLive) out.push(c);
    return out;
  }
}
