// SPDX-License-Identifier: MIT
// Tensor collectives on top of a host-array transport: validation (HeedErrors naming the op,
// shapes and dtypes), bucketing of many tensors of one dtype into one host array, reading the
// values and writing results back with Tensor.assign. Every transport (threads, MPI, single)
// implements only the host-array `HostTransport`; `createTensorGroup` makes it a ProcessGroup.
// Invariant: validation happens before anything is exchanged, so bad input on one rank never
// leaves the others half-way through a collective with different data.
import { HeedError, fmtShape, tensor, type Tensor } from '@heed/core';
import {
  DEFAULT_BUCKET_BYTES, REDUCE_OPS, type AllReduceOptions, type BroadcastOptions, type GroupBackend, type HostArray,
  type ProcessGroup, type ReduceOp, type ReduceScatterOptions,
} from './group.js';

/**
 * The host-array collectives a transport implements (all in rank order; every rank passes
 * arrays of the same type and length).
 *
 * @example
 * ```ts
 * const group: ProcessGroup = createTensorGroup(transport);
 * ```
 */
export interface HostTransport {
  /** This rank. */
  readonly rank: number;
  /** Number of ranks. */
  readonly worldSize: number;
  /** The transport's name. */
  readonly backend: GroupBackend;
  /** Reduces `data` over ranks in place (rank order 0..N-1). */
  allReduce(data: HostArray, op: ReduceOp): Promise<void>;
  /**
   * Optional: a host array of `length` values in memory that {@link HostTransport.allReduce}
   * exchanges without copying it in (the threads transport: this rank's slab region), valid
   * until this group's next collective starts; null when none fits.
   */
  stage?(dtype: 'float32' | 'int32', length: number): Float32Array | Int32Array | null;
  /** Copies rank `src`'s `data` into every rank's `data`. */
  broadcast(data: HostArray, src: number): Promise<void>;
  /** Writes rank k's `data` at `out[k * data.length]` for every k (`out.length = worldSize * data.length`). */
  allGather(data: HostArray, out: HostArray): Promise<void>;
  /** Reduces `data` (`worldSize * out.length` values) over ranks and writes block `rank` into `out`. */
  reduceScatter(data: HostArray, op: ReduceOp, out: HostArray): Promise<void>;
  /** Resolves once every rank has called it. */
  barrier(): Promise<void>;
  /** Leaves the group. */
  destroy(): Promise<void>;
}

type Exchangeable = 'float32' | 'int32';

function hostArrayFor(dtype: Exchangeable, length: number): Float32Array | Int32Array {
  return dtype === 'float32' ? new Float32Array(length) : new Int32Array(length);
}

function checkTensor(op: string, t: unknown, i: number, reduce: ReduceOp | null): Exchangeable {
  if (typeof t !== 'object' || t === null || typeof (t as Tensor).dtype !== 'string' || !Array.isArray((t as Tensor).shape)) {
    throw new HeedError(op, `argument ${i} is not a Tensor; pass tensors (e.g. the parameters' .grad).`);
  }
  const x = t as Tensor;
  if (x.isDisposed) throw new HeedError(op, `tensor ${i} ${fmtShape(x.shape)} was disposed; pass live tensors.`);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new HeedError(op, `tensor ${i} ${fmtShape(x.shape)} is ${x.dtype}; only float32 and int32 tensors can be exchanged (cast it first).`);
  }
  if (reduce !== null && REDUCE_OPS[reduce].floatOnly && x.dtype !== 'float32') {
    throw new HeedError(op, `op '${reduce}' needs float32 tensors but tensor ${i} ${fmtShape(x.shape)} is ${x.dtype}; use 'sum' or cast it.`);
  }
  return x.dtype;
}

function checkOp(op: string, reduce: unknown): ReduceOp {
  if (typeof reduce !== 'string' || !Object.hasOwn(REDUCE_OPS, reduce)) {
    throw new HeedError(op, `unknown reduce op ${JSON.stringify(reduce)}; use one of ${Object.keys(REDUCE_OPS).map((k) => `'${k}'`).join(', ')}.`);
  }
  return reduce as ReduceOp;
}

/** One host bucket: tensors of one dtype, packed one after the other. */
interface Bucket {
  readonly dtype: Exchangeable;
  readonly members: { readonly t: Tensor; readonly offset: number }[];
  size: number;
}

/** Groups tensors by dtype (first-seen order) and packs each group into buckets of at most `bucketBytes`. */
function makeBuckets(tensors: readonly Tensor[], dtypes: readonly Exchangeable[], bucketBytes: number): Bucket[] {
  const buckets: Bucket[] = [];
  const open = new Map<Exchangeable, Bucket>();
  tensors.forEach((t, i) => {
    if (t.size === 0) return;
    const dtype = dtypes[i];
    let b = open.get(dtype);
    if (b !== undefined && b.size > 0 && (b.size + t.size) * 4 > bucketBytes) b = undefined;
    if (b === undefined) {
      b = { dtype, members: [], size: 0 };
      buckets.push(b);
      open.set(dtype, b);
    }
    b.members.push({ t, offset: b.size });
    b.size += t.size;
  });
  return buckets;
}

async function pack(b: Bucket, into: Float32Array | Int32Array | null = null): Promise<Float32Array | Int32Array> {
  const host = into ?? hostArrayFor(b.dtype, b.size);
  for (const m of b.members) host.set(await m.t.data() as Float32Array | Int32Array, m.offset);
  return host;
}

function assignFrom(t: Tensor, values: Float32Array | Int32Array): void {
  const v = tensor(values, { shape: t.shape, dtype: t.dtype, backend: t.backend.name });
  try {
    t.assign(v);
  } finally {
    v.dispose();
  }
}

function unpack(b: Bucket, host: Float32Array | Int32Array): void {
  for (const m of b.members) assignFrom(m.t, host.subarray(m.offset, m.offset + m.t.size));
}

function checkList(op: string, tensors: readonly Tensor[], reduce: ReduceOp | null): Exchangeable[] {
  if (!Array.isArray(tensors)) throw new HeedError(op, 'expects an array of tensors, e.g. [grad] or model.parameters().');
  const dtypes = tensors.map((t, i) => checkTensor(op, t, i, reduce));
  tensors.forEach((t, i) => {
    if (!t.isLeaf) throw new HeedError(op, `tensor ${i} ${fmtShape(t.shape)} is not a leaf; results are written in place with assign, so pass leaves (parameters, .grad, buffers) or detach() it.`);
  });
  return dtypes;
}

/**
 * Makes a {@link ProcessGroup} of tensor collectives from a host-array transport.
 *
 * @example
 * ```ts
 * const group = createTensorGroup(transport);
 * await group.allReduce([a, b], { op: 'mean' });
 * ```
 */
export function createTensorGroup(transport: HostTransport): ProcessGroup {
  const { rank, worldSize, backend } = transport;
  let destroyed = false;
  const live = (op: string): void => {
    if (destroyed) throw new HeedError(op, `the process group (rank ${rank} of ${worldSize}) was destroyed; create a new one with initProcessGroup().`);
  };
  // Collectives run one at a time, in call order (the same order on every rank), even when a
  // caller starts several without awaiting each (DDP launches one per bucket during backward):
  // interleaved, their barriers and slab regions would mix.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <R>(fn: () => Promise<R>): Promise<R> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
  const impl = {
    async allReduce(tensors: readonly Tensor[], options: AllReduceOptions = {}): Promise<void> {
      const op = 'allReduce';
      live(op);
      const reduce = checkOp(op, options.op ?? 'sum');
      const bucketBytes = options.bucketBytes ?? DEFAULT_BUCKET_BYTES;
      if (!(bucketBytes > 0)) throw new HeedError(op, `bucketBytes must be positive, got ${bucketBytes}.`);
      const dtypes = checkList(op, tensors, reduce);
      if (worldSize === 1) return; // a reduction over one rank is its values (mean divides by 1)
      for (const b of makeBuckets(tensors, dtypes, bucketBytes)) {
        const host = await pack(b, transport.stage?.(b.dtype, b.size) ?? null); // packed straight into the slab where it fits
        await transport.allReduce(host, reduce);
        unpack(b, host);
      }
    },
    async broadcast(tensors: readonly Tensor[], options: BroadcastOptions = {}): Promise<void> {
      const op = 'broadcast';
      live(op);
      const src = options.src ?? 0;
      if (!Number.isInteger(src) || src < 0 || src >= worldSize) throw new HeedError(op, `src ${src} is not a rank of this group (0..${worldSize - 1}).`);
      const dtypes = checkList(op, tensors, null);
      if (worldSize === 1) return;
      for (const b of makeBuckets(tensors, dtypes, DEFAULT_BUCKET_BYTES)) {
        const host = rank === src ? await pack(b) : hostArrayFor(b.dtype, b.size);
        await transport.broadcast(host, src);
        if (rank !== src) unpack(b, host);
      }
    },
    async allGather(t: Tensor): Promise<Tensor[]> {
      const op = 'allGather';
      live(op);
      const dtype = checkTensor(op, t, 0, null);
      const mine = hostArrayFor(dtype, t.size);
      if (t.size > 0) mine.set(await t.data() as Float32Array | Int32Array);
      const out = hostArrayFor(dtype, t.size * worldSize);
      if (t.size > 0) await transport.allGather(mine, out);
      return Array.from({ length: worldSize }, (_, k) =>
        tensor(out.slice(k * t.size, (k + 1) * t.size), { shape: t.shape, dtype, backend: t.backend.name }));
    },
    async reduceScatter(t: Tensor, options: ReduceScatterOptions = {}): Promise<Tensor> {
      const op = 'reduceScatter';
      live(op);
      const reduce = checkOp(op, options.op ?? 'sum');
      const dtype = checkTensor(op, t, 0, reduce);
      if (t.shape.length === 0 || t.shape[0] % worldSize !== 0) {
        throw new HeedError(op, `tensor ${fmtShape(t.shape)} must have a first dimension divisible by the world size ${worldSize} (each rank gets one block of rows).`);
      }
      const shape = [t.shape[0] / worldSize, ...t.shape.slice(1)];
      const out = hostArrayFor(dtype, t.size / worldSize);
      if (t.size > 0) {
        const host = hostArrayFor(dtype, t.size);
        host.set(await t.data() as Float32Array | Int32Array);
        await transport.reduceScatter(host, reduce, out);
      }
      return tensor(out, { shape, dtype, backend: t.backend.name });
    },
    async allReduceBuffer(data: HostArray, reduce: ReduceOp): Promise<void> {
      const op = 'allReduceBuffer';
      live(op);
      checkOp(op, reduce);
      if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array)) {
        throw new HeedError(op, 'expects a Float32Array, Float64Array or Int32Array.');
      }
      if (reduce === 'mean' && data instanceof Int32Array) throw new HeedError(op, "op 'mean' needs a float array; use 'sum' or a Float64Array.");
      if (data.length > 0) await transport.allReduce(data, reduce);
    },
    async barrier(): Promise<void> {
      live('barrier');
      await transport.barrier();
    },
  };
  return {
    rank, worldSize, backend,
    allReduce: (tensors, options) => serial(() => impl.allReduce(tensors, options)),
    broadcast: (tensors, options) => serial(() => impl.broadcast(tensors, options)),
    allGather: (t) => serial(() => impl.allGather(t)),
    reduceScatter: (t, options) => serial(() => impl.reduceScatter(t, options)),
    allReduceBuffer: (data, op) => serial(() => impl.allReduceBuffer(data, op)),
    barrier: () => serial(() => impl.barrier()),
    async destroy(): Promise<void> {
      if (destroyed) return;
      await tail; // collectives already started finish first
      destroyed = true;
      await transport.destroy();
    },
  };
}
