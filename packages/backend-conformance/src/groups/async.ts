// SPDX-License-Identifier: MIT
// Asynchronous reads: a read that is pending when its tensor (or the view it reads, or the
// storage behind it via assign) is disposed must still resolve with the values at the time
// of the call; reads interleaved with further work see exactly the work issued before them;
// many concurrent reads of one buffer agree. Backends that queue work (WebGPU) and free
// buffers lazily are the target.
import { arange, tensor, tidy, type Tensor } from '@heed/core';
import { ensure } from '../assert.js';
import type { CaseContext, RunnableCase } from '../types.js';

function same(label: string, got: ArrayLike<number>, want: readonly number[]): void {
  const g = Array.from(got);
  ensure(g.length === want.length && g.every((v, i) => v === want[i]), () => `${label}: read [${g.slice(0, 8)}], want [${want.slice(0, 8)}]`);
}

async function disposeDuringRead(ctx: CaseContext): Promise<void> {
  const t = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], backend: ctx.backend });
  const y = t.mul(10);
  const p = y.data();
  y.dispose();
  t.dispose();
  same('read of a tensor disposed while the read was pending', await p, [10, 20, 30, 40, 50, 60]);
}

async function disposeViewDuringRead(ctx: CaseContext): Promise<void> {
  const t = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], backend: ctx.backend });
  const v = t.transpose().add(0.5).transpose().slice([null, [0, 3, 2]]);
  const p = v.data();
  v.dispose();
  t.dispose();
  same('read of a strided view disposed while pending', await p, [1.5, 3.5, 4.5, 6.5]);
}

async function assignDuringRead(ctx: CaseContext): Promise<void> {
  const w = tensor([1, 2, 3], { backend: ctx.backend });
  const before = w.data();
  const next = w.mul(2);
  w.assign(next);
  next.dispose();
  const after = w.data();
  const w3 = w.mul(3);
  w.dispose();
  const later = w3.data();
  w3.dispose();
  same('read issued before assign()', await before, [1, 2, 3]);
  same('read issued after assign()', await after, [2, 4, 6]);
  same('read of work issued after assign()', await later, [6, 12, 18]);
}

async function readsInOrder(ctx: CaseContext): Promise<void> {
  const pending: Promise<Float32Array | Int32Array | Uint8Array>[] = [];
  const expected: number[][] = [];
  let x = tensor([0, 1, 2, 3], { backend: ctx.backend });
  let host = [0, 1, 2, 3];
  for (let step = 0; step < 20; step++) {
    const next = step % 2 === 0 ? x.mul(2) : x.sub(1);
    host = host.map((v) => (step % 2 === 0 ? v * 2 : v - 1));
    x.dispose();
    x = next;
    pending.push(x.data());
    expected.push(host);
  }
  x.dispose();
  const results = await Promise.all(pending);
  results.forEach((r, i) => same(`read #${i} of a chain of dependent ops`, r, expected[i]));
}

async function concurrentReads(ctx: CaseContext): Promise<void> {
  const t = tidy(() => arange(1000, undefined, 1, { backend: ctx.backend }).mul(3));
  const reads = Array.from({ length: 8 }, () => t.data());
  const sliced = t.slice([[10, 20, 3]]);
  reads.push(sliced.data());
  sliced.dispose();
  t.dispose();
  const all = await Promise.all(reads);
  const want = Array.from({ length: 1000 }, (_, i) => 3 * i);
  all.slice(0, 8).forEach((r, i) => same(`concurrent read ${i}`, r, want));
  same('read of a slice disposed while pending', all[8], [30, 39, 48, 57]);
}

async function interleaved(ctx: CaseContext): Promise<void> {
  const owned: Tensor[] = [];
  const reads: [Promise<ArrayLike<number>>, number[]][] = [];
  try {
    const a = tensor([1, 2], { backend: ctx.backend });
    owned.push(a);
    for (let i = 0; i < 10; i++) {
      const b = a.add(i);
      reads.push([b.data(), [1 + i, 2 + i]]);
      const c = b.mul(b);
      b.dispose();
      const s = c.sum();
      reads.push([s.data(), [(1 + i) ** 2 + (2 + i) ** 2]]);
      owned.push(c, s);
    }
  } finally {
    for (const t of owned) t.dispose();
  }
  for (const [p, want] of reads) same('interleaved read', await p, want);
}

/**
 * The async-ordering cases.
 *
 * @example
 * ```ts
 * asyncCases().map((c) => c.id); // ['async/dispose-during-read', ...]
 * ```
 */
export function asyncCases(): RunnableCase[] {
  const make = (name: string, op: string, run: (ctx: CaseContext) => Promise<void>): RunnableCase => ({
    id: `async/${name}`, group: 'async', op, dtypes: ['float32'], hasGradient: false, run,
  });
  return [
    make('dispose-during-read', 'data', disposeDuringRead),
    make('dispose-view-during-read', 'data', disposeViewDuringRead),
    make('assign-during-read', 'assign', assignDuringRead),
    make('reads-in-order', 'data', readsInOrder),
    make('concurrent-reads', 'data', concurrentReads),
    make('interleaved-reads', 'data', interleaved),
  ];
}
