// SPDX-License-Identifier: MIT
// The threads transport against a plain-JS oracle: 1, 2 and 4 worker_thread ranks run every
// collective (allReduce sum/mean/max/min on odd-sized, empty and NaN-holding float32 tensors,
// int32 sums that wrap, many small tensors of two dtypes in 64-byte buckets, a tensor five
// times the slab region run in chunks, broadcast, allGather, reduceScatter, float64 host
// buffers, collectives launched without awaiting each other); every rank's result must equal the oracle bit for bit (so ranks agree bitwise),
// and no rank may leak a tensor.
import { beforeAll, describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { cpuThreadsPerRank, spawnThreads } from '@heed/distributed/node';
import { bits, ensureBuilt, workerUrl } from './threads-support.js';
// @ts-expect-error plain-JS helper shared with the workers (no declaration file)
import { ints, values } from './workers/inputs.mjs';

const vals = values as (rank: number, index: number, n: number) => number[];
const intVals = ints as (rank: number, index: number, n: number) => number[];

type Op = 'sum' | 'mean' | 'max' | 'min';
const OPS: Op[] = ['sum', 'mean', 'max', 'min'];

/** Reduces per-rank value lists in rank order, as float32 (sum/mean round after each rank). */
function oracle(op: Op, perRank: number[][]): Float32Array {
  const n = perRank[0].length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const xs = perRank.map((v) => v[i]);
    if (op === 'max' || op === 'min') {
      out[i] = xs.some(Number.isNaN) ? NaN : op === 'max' ? Math.max(...xs) : Math.min(...xs);
    } else {
      let acc = Math.fround(xs[0]);
      for (let k = 1; k < xs.length; k++) acc = Math.fround(acc + xs[k]);
      out[i] = op === 'mean' ? Math.fround(acc / xs.length) : acc;
    }
  }
  return out;
}

function intSum(perRank: number[][]): Int32Array {
  const out = new Int32Array(perRank[0].length);
  for (let i = 0; i < out.length; i++) out[i] = perRank.reduce((acc, v) => (acc + v[i]) | 0, 0);
  return out;
}

const ranks = (n: number) => Array.from({ length: n }, (_, k) => k);
const SIZES = [1, 7, 1023, 0, 3];
const BIG = 5000; // slab region below: 1024 float32 values, so 5 chunks
const BUCKETS = 60;

interface RankResult { rank: number; leaked: number; out: Record<string, unknown[]> }

function expected(n: number): Record<string, (Float32Array | Int32Array | Float64Array)[]> {
  const e: Record<string, (Float32Array | Int32Array | Float64Array)[]> = {};
  for (const op of OPS) {
    e[`allReduce-${op}`] = SIZES.map((size, i) => oracle(op, ranks(n).map((k) => {
      const v = vals(k, i, size);
      if ((op === 'max' || op === 'min') && i === 1 && k === n - 1) v[2] = NaN;
      return v;
    })));
    e[`reduceScatter-${op}`] = ranks(n).map((r) => oracle(op, ranks(n).map((k) => vals(k, 10, n * 6).slice(r * 6, r * 6 + 6))));
  }
  e['allReduce-int32'] = [intSum(ranks(n).map((k) => intVals(k, 0, 37)))];
  e.bucketed = Array.from({ length: BUCKETS }, (_, i) => i % 5 === 4
    ? intSum(ranks(n).map((k) => intVals(k, 100 + i, 1 + (i % 9))))
    : oracle('sum', ranks(n).map((k) => vals(k, 100 + i, 1 + (i % 9)))));
  e.big = [oracle('mean', ranks(n).map((k) => vals(k, 7, BIG)))];
  e.concurrent = [0, 1, 2].map((i) => oracle('sum', ranks(n).map((k) => vals(k, 20 + i, BIG + i))));
  e.concurrentGather = ranks(n).map((k) => Float32Array.from(vals(k, 23, 9)));
  e.broadcast = [Float32Array.from(vals(n - 1, 8, 11))];
  e.allGather = ranks(n).map((k) => Float32Array.from(vals(k, 9, 5)));
  e.allGatherBig = ranks(n).map((k) => Float32Array.from(vals(k, 9, BIG)));
  e.reduceScatterBig = ranks(n).map((r) => oracle('sum', ranks(n).map((k) => vals(k, 11, n * BIG).slice(r * BIG, (r + 1) * BIG))));
  let a = 0, b = 0;
  for (const k of ranks(n)) { a += k + 0.5; b += 2 ** 40 + k; }
  e.buffer = [new Float64Array([a, b])];
  return e;
}

beforeAll(() => ensureBuilt(), 120_000);

describe('threads transport', () => {
  for (const n of [1, 2, 4]) {
    it(`${n} rank(s): every collective equals the rank-order oracle bit for bit, without leaks`, async () => {
      const results = await spawnThreads<RankResult>(n, workerUrl('collectives.mjs'), {
        workerData: { sizes: SIZES, bucketCount: BUCKETS, bigSize: BIG }, slabBytes: 4096, timeoutMs: 20_000, cpuThreads: 1,
      });
      const want = expected(n);
      expect(results.map((r) => r.rank)).toEqual(ranks(n));
      for (const r of results) {
        expect(r.leaked).toBe(0);
        for (const [key, list] of Object.entries(want)) {
          // reduceScatter: each rank holds only its own block.
          const scattered = key.startsWith('reduceScatter');
          const got = r.out[key] as (Float32Array | Int32Array | Float64Array)[];
          const exp = scattered ? [list[r.rank]] : list;
          expect(got.length, key).toBe(exp.length);
          got.forEach((g, i) => expect(bits(g), `${key}[${i}] on rank ${r.rank}`).toEqual(bits(exp[i])));
        }
        expect(r.out.emptyShapes).toEqual(ranks(n).map(() => [0, 3]));
      }
    });
  }

  it("gives each rank torchrun's variables and hardware threads / world size CPU threads, which the CPU backend's pool uses", async () => {
    const hw = availableParallelism();
    expect(cpuThreadsPerRank(4, 16)).toBe(4);
    expect(cpuThreadsPerRank(3, 2)).toBe(1);
    for (const n of [1, 2]) {
      const fromEnv = Number(process.env.HEED_CPU_THREADS); // the user's setting wins over the default
      const want = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(1, Math.floor(hw / n));
      const results = await spawnThreads<Record<string, unknown>>(n, workerUrl('env.mjs'), { timeoutMs: 20_000 });
      expect(results).toEqual(ranks(n).map((r) => ({
        rank: r, RANK: String(r), WORLD_SIZE: String(n), LOCAL_RANK: String(r), HEED_CPU_THREADS: String(want), cpuThreads: want,
        poolThreads: Math.min(want, hw), // the pool never starts more workers than hardware threads
      })));
    }
  });

  it('initProcessGroup() picks the threads transport inside a worker; destroy() reports the rank done', async () => {
    expect(await spawnThreads(3, workerUrl('manual.mjs'), { timeoutMs: 20_000, cpuThreads: 1 })).toEqual([undefined, undefined, undefined]);
  });
});

