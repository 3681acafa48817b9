// SPDX-License-Identifier: MIT
// Test helper: an in-thread "world" of N ranks implementing ProcessGroupLike. Each collective
// copies the callers' values when called (like a transport reading them), resolves once all
// ranks have made the same call, sums in rank order 0..N-1 in float32 and assigns in place.
// It logs every call (rank, kind, tensor count) so tests can see when buckets were launched.
import { noGrad, tensor, type Tensor } from '@heed/core';
import type { GradReduceOp, ProcessGroupLike } from '@heed/nn';

interface Pending {
  values: Float32Array[][];
  arrived: number;
  done: Promise<void>;
  resolve: () => void;
}

/** One logged collective call. */
export interface CallRecord {
  rank: number;
  kind: 'allReduce' | 'broadcast';
  count: number;
}

/** N ranks in one thread. */
export class FakeWorld {
  readonly log: CallRecord[] = [];
  /** Called at every collective call, before anything is exchanged. */
  probe: ((rec: CallRecord) => void) | null = null;
  private readonly calls = new Map<string, Pending>();
  private readonly counters: number[];
  readonly groups: ProcessGroupLike[];

  constructor(readonly size: number) {
    this.counters = new Array<number>(size).fill(0);
    this.groups = Array.from({ length: size }, (_, rank) => ({
      rank,
      worldSize: size,
      allReduce: (tensors: readonly Tensor[], options?: { op?: GradReduceOp }) => this.collective(rank, 'allReduce', tensors, (vals) => {
        const out = vals[0].map((v0, t) => {
          const acc = new Float32Array(v0.length);
          for (let r = 0; r < size; r++) for (let i = 0; i < acc.length; i++) acc[i] += vals[r][t][i];
          if ((options?.op ?? 'sum') === 'mean') for (let i = 0; i < acc.length; i++) acc[i] /= size;
          return acc;
        });
        return out;
      }),
      broadcast: (tensors: readonly Tensor[], options?: { src?: number }) =>
        this.collective(rank, 'broadcast', tensors, (vals) => vals[options?.src ?? 0]),
    }));
  }

  private async collective(rank: number, kind: CallRecord['kind'], tensors: readonly Tensor[], combine: (vals: Float32Array[][]) => Float32Array[]): Promise<void> {
    const rec = { rank, kind, count: tensors.length };
    this.log.push(rec);
    this.probe?.(rec);
    const key = `${kind}:${this.counters[rank]++}`;
    let p = this.calls.get(key);
    if (!p) {
      let resolve = () => {};
      const done = new Promise<void>((r) => { resolve = r; });
      p = { values: [], arrived: 0, done, resolve };
      this.calls.set(key, p);
    }
    p.values[rank] = tensors.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    p.arrived++;
    if (p.arrived === this.size) p.resolve();
    await p.done;
    const out = combine(p.values);
    noGrad(() => tensors.forEach((t, i) => {
      const v = tensor(out[i], { shape: [...t.shape] });
      t.assign(v);
      v.dispose();
    }));
  }
}
