// SPDX-License-Identifier: MIT
// Lazy execution as a decorator over any backend (like Burn's Fusion<B>): elementwise primitives
// (fill, copy, unary, binary, where, cast), float32 reductions over trailing axes and matmuls
// (also the `linear` fused kernel, as matmul + bias add) are recorded, not run; a value is
// computed when it is needed — read, used by another kernel (gather, fused kernels...), or
// `flush()` — and then the pending graph behind it runs as ONE fused program (the inner
// backend's optional `elementwise` kernel; op by op when it has none or declines). A program
// reading a pending matmul's product is its epilogue: one `matmulElementwise` call (matmul,
// then the program, when the backend has none or declines). Which nodes fuse is schedule.ts's
// job. Invariants:
// - a recorded buffer that core frees before it is needed and that nothing pending reads is
//   never computed; one that is still read by a pending node lives on inside the graph;
// - every intermediate of a fused program that is still alive (not freed by core, or read by a
//   pending node outside the program) is written out, so nothing is computed twice;
// - a node recorded twice (same op, operands and constants) while the first is pending becomes
//   an alias (a pending identity copy, free inside a program) of the first (CSE);
// - validation stays in core's ops (eager); this layer sees only valid calls.
import { FUSED_KERNEL_NAMES, type Backend, type BackendCapabilities, type BinaryOp, type Conv2dParams, type DataId, type RandomKind, type ReduceOp, type StridedView, type UnaryOp } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';
import { HeedError } from '../errors.js';
import { contiguousStrides, sizeOf } from '../shape.js';
import { PROGRAM_REDUCE_OPS, runMatmulThenProgram, runProgramByPrimitives, type ElementwiseProgram, type ProgramReduceOp } from './program.js';
import { firstOperand, LazyBuffer, matmulShape, operands, sameNode, type Pending } from './graph.js';
import { LiveList } from './live-list.js';
import { buildProgram, planProgram, reframe, sameShape, type Plan, type PlanOptions } from './schedule.js';
import type { BackendFactory } from '../registry.js';
import { runFusedKernel, runKernel } from '../kernel-dispatch.js';

/**
 * Default {@link LazyOptions.maxPending}: ops recorded without a read before they are computed anyway.
 *
 * @example
 * ```ts
 * new LazyBackend(new CpuBackend(), { maxPending: 4 * DEFAULT_MAX_PENDING });
 * ```
 */
export const DEFAULT_MAX_PENDING = 1024;

/**
 * Options of {@link LazyBackend} and {@link lazyBackendFactory}.
 *
 * @example
 * ```ts
 * const opts: LazyOptions = { name: 'cpu', maxPending: 4096 };
 * registerBackend(lazyBackendFactory(cpuFactory, opts));
 * ```
 */
export interface LazyOptions {
  /** The backend's name (default: the inner backend's). */
  readonly name?: string;
  /** Print every fused program and kernel (default: `HEED_DEBUG=fusion`). */
  readonly debug?: boolean;
  /**
   * The size limit of the pending graph: once this many recorded ops wait uncomputed (a loop
   * with no read, no `flush()`), every alive pending buffer is computed, as by `flush()`.
   * Bounds a program's size and the memory its inputs hold. Default {@link DEFAULT_MAX_PENDING}.
   */
  readonly maxPending?: number;
}

/**
 * Counters of what the lazy layer did, for tests, `HEED_DEBUG=fusion` and benchmarks.
 *
 * @example
 * ```ts
 * const { recorded, programs, dispatches, skipped, shared }: LazyStats = lazyBackend.stats();
 * ```
 */
export interface LazyStats {
  /** Elementwise primitives recorded. */
  recorded: number;
  /** Fused programs run (each one kernel on a backend with `elementwise`). */
  programs: number;
  /** Kernel calls that reached the inner backend (programs, other primitives, fused kernels). */
  dispatches: number;
  /** Recorded buffers dropped without ever being computed. */
  skipped: number;
  /** Nodes recorded twice (same op, operands, constants) that became aliases of the first (CSE). */
  shared: number;
}

/** The default `busy` set of realize/view: nothing is being computed (shared, never written). */
const NOT_BUSY: ReadonlySet<LazyBuffer> = new Set();

function lazy(data: DataId, op: string): LazyBuffer {
  if (!(data instanceof LazyBuffer)) throw new HeedError(op, 'the buffer does not belong to this lazy backend (it was made by another backend); move the tensor with .to() first.');
  return data;
}

/** The fused kernels forwarded to the inner backend: all but `elementwise` and `matmulElementwise`, which the lazy layer calls itself. */
const FUSED_NAMES = FUSED_KERNEL_NAMES.filter((k): k is Exclude<FusedKernelKey, 'elementwise' | 'matmulElementwise'> => k !== 'elementwise' && k !== 'matmulElementwise');
type FusedKernelKey = (typeof FUSED_KERNEL_NAMES)[number];

/**
 * Wraps `inner` so elementwise work is recorded and run as fused programs (see the file
 * comment). Usually reached through {@link lazyBackendFactory}.
 *
 * @example
 * ```ts
 * const backend = new LazyBackend(new CpuBackend());
 * backend.stats(); // { recorded, programs, dispatches, skipped, shared }
 * ```
 */
export class LazyBackend implements Backend {
  readonly name: string;
  readonly apiVersion: number;
  readonly capabilities: BackendCapabilities;
  readSync?: (data: DataId, dtype: DType, size: number) => TypedArray;
  /** Every buffer not yet dropped, in recording order (a list through the buffers: live-list.ts says why not a Set). */
  private readonly live = new LiveList();
  private counts: LazyStats = { recorded: 0, programs: 0, dispatches: 0, skipped: 0, shared: 0 };
  private readonly debug: boolean;
  /** Recorded nodes not yet computed or dropped (the pending graph's size). */
  private pendingNodes = 0;
  /** The size limit: when `pendingNodes` reaches this, the alive pending buffers are computed. */
  private readonly maxPending: number;
  private flushAt: number;

  constructor(readonly inner: Backend, options: LazyOptions = {}) {
    this.name = options.name ?? inner.name;
    this.apiVersion = inner.apiVersion;
    this.capabilities = inner.capabilities;
    this.debug = options.debug ?? debugFusion();
    const max = options.maxPending ?? DEFAULT_MAX_PENDING;
    if (!Number.isInteger(max) || max < 1) {
      throw new HeedError('LazyBackend', `maxPending must be a positive whole number of recorded ops, got ${max}; the default is ${DEFAULT_MAX_PENDING}.`);
    }
    this.maxPending = max;
    this.flushAt = max;
    if (inner.readSync !== undefined) {
      const readSync = inner.readSync.bind(inner);
      this.readSync = (data, dtype, size) => readSync(this.realizeForRead(lazy(data, 'readSync')), dtype, size);
    }
    for (const k of FUSED_NAMES) {
      if (inner[k] === undefined) continue;
      const fn = (...args: unknown[]) => (runFusedKernel as (b: Backend, k: string, ...a: unknown[]) => DataId | readonly DataId[] | null)(inner, k, ...args);
      (this as unknown as Record<string, unknown>)[k] = (...args: unknown[]) => {
        const real = args.map((a) => (isView(a) ? this.view(a) : a));
        this.counts.dispatches++;
        const out = fn(...real);
        if (out === null) return null;
        return Array.isArray(out) ? out.map((d: DataId, i) => this.ready(d, 'float32', tupleShape(k, real, i))) : this.ready(out as DataId, outDtype(k, real), outShape(k, real));
      };
    }
    // linear as a pending matmul + bias add, so a following activation or residual add joins its epilogue
    if (inner.linear !== undefined) (this as unknown as { linear: Backend['linear'] }).linear = (x, w, bias) => this.recordLinear(x, w, bias);
  }

  /** A copy of the counters since the backend was made (or since `resetStats`). */
  stats(): LazyStats { return { ...this.counts }; }
  /** Zeroes the counters. */
  resetStats(): void { this.counts = { recorded: 0, programs: 0, dispatches: 0, skipped: 0, shared: 0 }; }

  upload(values: TypedArray, dtype: DType): DataId { return this.ready(runKernel(this.inner, 'upload', values, dtype), dtype, [values.length]); }
  fill(size: number, value: number, dtype: DType): DataId { return this.record({ kind: 'fill', value }, dtype, [size]); }
  copy(x: StridedView): DataId { return this.record({ kind: 'copy', x }, x.dtype, x.shape); }
  unary(fn: UnaryOp, x: StridedView, outDtype: DType): DataId { return this.record({ kind: 'unary', fn, x }, outDtype, x.shape); }
  binary(fn: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId { return this.record({ kind: 'binary', fn, a, b }, outDtype, a.shape); }
  where(cond: StridedView, a: StridedView, b: StridedView): DataId { return this.record({ kind: 'where', cond, a, b }, a.dtype, cond.shape); }
  cast(x: StridedView, dtype: DType): DataId { return this.record({ kind: 'cast', x }, dtype, x.shape); }

  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    const shape = x.shape.filter((_, d) => !axes.includes(d));
    const k = axes.length;
    const trailing = k > 0 && axes.every((a, i) => a === x.shape.length - k + i);
    if (trailing && isProgramReduce(op) && x.dtype === 'float32' && outDtype === 'float32') return this.record({ kind: 'reduce', fn: op, x, axes: k }, outDtype, shape);
    return this.eager(() => runKernel(this.inner, 'reduce', op, this.view(x), axes, outDtype), outDtype, shape, 'reduce');
  }
  matmul(a: StridedView, b: StridedView): DataId {
    return this.record({ kind: 'matmul', a, b }, a.dtype, matmulShape({ a, b }));
  }
  gather(x: StridedView, axis: number, index: StridedView): DataId {
    return this.eager(() => runKernel(this.inner, 'gather', this.view(x), axis, this.view(index)), x.dtype, index.shape, 'gather');
  }
  indexSelect(x: StridedView, axis: number, index: StridedView): DataId {
    const shape = x.shape.map((d, i) => (i === axis ? sizeOf(index.shape) : d));
    return this.eager(() => runKernel(this.inner, 'indexSelect', this.view(x), axis, this.view(index)), x.dtype, shape, 'indexSelect');
  }
  scatterAdd(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId {
    return this.eager(() => runKernel(this.inner, 'scatterAdd', shape, axis, this.view(index), this.view(src)), src.dtype, shape, 'scatterAdd');
  }
  concat(inputs: readonly StridedView[], axis: number): DataId {
    const shape = inputs[0].shape.map((d, i) => (i === axis ? inputs.reduce((s, v) => s + v.shape[axis], 0) : d));
    return this.eager(() => runKernel(this.inner, 'concat', inputs.map((v) => this.view(v)), axis), inputs[0].dtype, shape, 'concat');
  }
  random(kind: RandomKind, size: number, seed: number, offset: number): DataId {
    return this.eager(() => runKernel(this.inner, 'random', kind, size, seed, offset), 'float32', [size], 'random');
  }

  async read(data: DataId, dtype: DType, size: number): Promise<TypedArray> {
    return runKernel(this.inner, 'read', this.realizeForRead(lazy(data, 'read')), dtype, size);
  }

  /**
   * Core's hint that autograd keeps `data` for a backward (see schedule.ts's rematerialization).
   * The mark stays after the engine releases the saved tensors, which it does as that node's
   * backward starts: its programs are the ones that should recompute the buffer.
   */
  savedForBackward(data: DataId): void {
    lazy(data, 'savedForBackward').saved = true;
  }

  free(data: DataId): void {
    const b = lazy(data, 'free');
    if (b.freed) return;
    b.freed = true;
    if (b.uses === 0) this.drop(b);
  }

  /**
   * Computes every pending buffer that is still alive, in recording order, each with the
   * pending graph behind it and its same-shape siblings (as when a kernel needs it: an
   * optimizer step's updates run as one program), then flushes the inner backend.
   */
  flush(): void {
    this.computePending();
    if (this.inner.flush !== undefined) runKernel(this.inner, 'flush');
  }

  dispose(): void {
    this.flush();
    this.inner.dispose?.();
  }

  // ---- internals ----

  /** `x @ weight^T (+ bias)` recorded as a pending matmul (+ a bias row add): the inner `linear`'s values up to its epilogue's rounding. */
  private recordLinear(x: StridedView, weight: StridedView, bias: StridedView | null): DataId {
    const [m, k] = x.shape;
    const n = weight.shape[0];
    const a: StridedView = { ...x, shape: [1, m, k], strides: [0, x.strides[0], x.strides[1]] };
    const b: StridedView = { ...weight, shape: [1, k, n], strides: [0, weight.strides[1], weight.strides[0]] };
    const product = this.matmul(a, b) as LazyBuffer;
    if (bias === null) return product;
    const shape = [m, n];
    const pv: StridedView = { data: product, dtype: 'float32', shape, strides: contiguousStrides(shape), offset: 0 };
    const row: StridedView = { ...bias, shape, strides: [0, bias.strides[0]] };
    const out = this.binary('add', pv, row, 'float32');
    this.free(product);
    return out;
  }

  private record(p: Pending, dtype: DType, shape: readonly number[]): DataId {
    let ops = operands(p);
    let aliased = false;
    for (const v of ops) aliased = lazy(v.data, p.kind).aliasOf !== null || aliased;
    if (aliased) { p = unalias(p); ops = operands(p); }
    // CSE: a twin is a pending reader of the same first operand (fills have none and never match)
    const first = ops.length > 0 ? (ops[0].data as LazyBuffer) : null;
    const readers = first === null ? null : first.readers;
    if (readers !== null) {
      for (const twin of readers) {
        if (twin.pending === null || twin.dtype !== dtype || !sameShape(twin.shape, shape) || !sameNode(twin.pending, p)) continue;
        this.counts.shared++;
        const alias = this.node({ kind: 'copy', x: { data: twin, dtype, shape, strides: contiguousStrides(shape), offset: 0 } }, dtype, shape, null);
        alias.aliasOf = twin;
        return alias;
      }
    }
    const b = this.node(p, dtype, shape, ops);
    if (first !== null) {
      b.inCse = true;
      if (readers === null) first.readers = [b];
      else readers.push(b);
    }
    // the size limit: a long chain with no read (a loop of updates) is computed every
    // maxPending ops, so programs and the scheduler's walks stay bounded
    if (this.pendingNodes >= this.flushAt) this.computePending();
    return b;
  }

  private node(p: Pending, dtype: DType, shape: readonly number[], ops: readonly StridedView[] | null): LazyBuffer {
    const b = new LazyBuffer(dtype, shape);
    for (const v of ops ?? operands(p)) (v.data as LazyBuffer).uses++;
    b.pending = p;
    this.live.add(b);
    this.counts.recorded++;
    this.pendingNodes++;
    return b;
  }

  /**
   * Takes a node that is no longer pending (its `pending` still set) out of the CSE table (its
   * first operand's `readers`; their order does not matter, so the last one fills the gap and
   * the vacated slot is cleared).
   */
  private settle(b: LazyBuffer): void {
    if (!b.inCse) return;
    b.inCse = false;
    const first = firstOperand(b.pending as Pending) as LazyBuffer;
    const readers = first.readers as LazyBuffer[];
    const last = readers.pop() as LazyBuffer;
    if (last !== b) readers[readers.indexOf(b)] = last;
    if (readers.length === 0) first.readers = null;
  }

  private ready(inner: DataId, dtype: DType, shape: readonly number[]): LazyBuffer {
    const b = new LazyBuffer(dtype, shape);
    b.inner = inner;
    this.live.add(b);
    return b;
  }

  private eager(run: () => DataId, dtype: DType, shape: readonly number[], kernel: string): DataId {
    const id = run(); // computes the inputs first (their programs print first under HEED_DEBUG)
    this.counts.dispatches++;
    if (this.debug) console.log(`[heed fusion] ${kernel} -> [${shape.join(',')}]`);
    return this.ready(id, dtype, shape);
  }

  /** `v` with its data computed and replaced by the inner buffer. */
  private view(v: StridedView, busy: ReadonlySet<LazyBuffer> = NOT_BUSY): StridedView {
    return { ...v, data: this.realize(lazy(v.data, 'view'), busy) };
  }

  /** Marks pending `b` computed or dropped: out of the CSE table, no longer pending, its operands released. */
  private retire(b: LazyBuffer): void {
    const p = b.pending as Pending;
    this.settle(b);
    b.pending = null;
    this.pendingNodes--;
    for (const v of operands(p)) this.release(v.data as LazyBuffer);
  }

  /** Releases one pending reader of `b`; frees b when core freed it and nothing reads it. */
  private release(b: LazyBuffer): void {
    b.uses--;
    if (b.freed && b.uses === 0) this.drop(b);
  }

  private drop(b: LazyBuffer): void {
    this.live.delete(b);
    if (b.inner !== null) {
      runKernel(this.inner, 'free', b.inner);
      b.inner = null;
    }
    if (b.pending !== null) {
      this.retire(b);
      this.counts.skipped++;
    }
  }

  /** Every alive pending buffer, in recording order, each with its same-shape siblings. */
  private computePending(): void {
    for (const b of this.live.toArray()) if (b.pending !== null && !b.freed) this.realize(b);
    // what is still pending (nodes kept to be recomputed where read) does not count twice
    this.flushAt = this.pendingNodes + this.maxPending;
  }

  /**
   * The inner buffer of `b` for a read: a read is a sync point, so after `b` the rest of the
   * alive pending graph runs too (e.g. a training step's backward and optimizer update, pending
   * when its loss is read; computed now rather than interleaved with the next step's forward,
   * which would keep both steps' intermediates alive at once).
   */
  private realizeForRead(b: LazyBuffer): DataId {
    const inner = this.realize(b);
    this.computePending();
    return inner;
  }

  /** The inner buffer of `b`, running its pending graph as one program if needed. */
  private realize(b: LazyBuffer, busy: ReadonlySet<LazyBuffer> = NOT_BUSY): DataId {
    if (b.pending !== null) this.realizeAll(this.siblings(b, busy), busy);
    if (b.inner === null) throw new HeedError('lazy', 'a buffer was used after it was freed (a disposed tensor?).');
    return b.inner;
  }

  /**
   * `b` and the buffers computed with it: every other alive (held by a tensor) pending
   * elementwise buffer of its shape, e.g. the other parameters of an optimizer step, read by the
   * next step's still-pending matmuls and bias adds, so they share one program instead of one
   * each. (One read by a pending node is computed here rather than fused into that reader: it
   * is alive, so it is written out either way.)
   */
  private siblings(b: LazyBuffer, busy: ReadonlySet<LazyBuffer>): LazyBuffer[] {
    const p = b.pending;
    if (b.freed || p === null || p.kind === 'reduce' || p.kind === 'fill' || p.kind === 'matmul') return [b];
    const group = [b];
    for (let c = this.live.first; c !== null; c = c.nextLive) {
      if (c === b || busy.has(c) || c.freed || c.recompute || c.pending === null || c.pending.kind === 'reduce' || c.pending.kind === 'fill' || c.pending.kind === 'matmul') continue;
      if (sameShape(c.shape, b.shape)) group.push(c);
    }
    return group;
  }

  /**
   * Computes pending `roots` (one shape; a reduction alone) as one program, after whatever
   * their plan needs computed first; a root that cannot join the others is computed on its own,
   * and a group the backend declines (too many buffers for one kernel) is split in halves.
   */
  private realizeAll(roots: readonly LazyBuffer[], busy: ReadonlySet<LazyBuffer>): void {
    let options: PlanOptions = {};
    /** Grouped roots a program left pending to be recomputed where they are read (schedule.ts's `kept`). */
    const deferred = new Set<LazyBuffer>();
    for (;;) {
      const pending = roots.filter((r) => r.pending !== null && !deferred.has(r));
      if (pending.length === 0) return;
      const products = pending.filter((r) => r.pending?.kind === 'matmul');
      if (products.length > 0) {
        // a product needed as it is (read, or by another kernel): the matmul alone
        for (const m of products) this.runMatmul(m, new Set([...busy, ...pending]));
        continue;
      }
      const plan = planProgram(pending, options);
      if (plan.first.length > 0) {
        if (plan.first.some((f) => pending.includes(f))) {
          // a root needs another root computed first: no group, one by one
          for (const r of pending) this.realizeAll([r], busy);
          return;
        }
        // consumers first (recorded later: higher ids), so each fuses what it can of the others
        const inner = new Set([...busy, ...pending]);
        for (const f of [...plan.first].sort((a, b) => b.id - a.id)) if (f.pending !== null) this.realizeAll(this.siblings(f, inner), inner);
        continue;
      }
      const built = buildProgram(plan);
      if (built.misplaced.length > 0) {
        // a 'full' output computed from row values only: plan again without row edges for the
        // roots, or compute the offending intermediate on its own
        const inner = built.misplaced.filter((m) => !pending.includes(m));
        if (inner.length === 0) options = { noRow: true };
        for (const m of inner) this.realizeAll([m], new Set([...busy, ...pending]));
        continue;
      }
      const split = pending.length === 1 && plan.matmul === null && this.inner.elementwise !== undefined ? splitFirst(plan, built.outputs) : [];
      if (!this.runPlan(plan, built, pending.length > 1 || split.length > 0)) {
        if (pending.length === 1) {
          // one program too big for the backend (e.g. an Adam update with its bias corrections
          // as tensors, past WebGPU's binding limit): compute part of it first, then plan again
          const inner = new Set([...busy, ...pending]);
          for (const m of split) if (m.pending !== null) this.realizeAll([m], inner);
          continue;
        }
        const half = Math.ceil(pending.length / 2);
        this.realizeAll(pending.slice(0, half), busy);
        this.realizeAll(pending.slice(half), busy);
        return;
      }
      for (const n of built.kept) { deferred.add(n); n.recompute = true; }
      options = {};
    }
  }

  /**
   * Runs pending matmul `m` on its own, its operands computed first (not grouped with `busy`,
   * the buffers being computed that may read m); a consumer computed meanwhile may have fused it.
   */
  private runMatmul(m: LazyBuffer, busy: ReadonlySet<LazyBuffer>): void {
    const p = m.pending as Extract<Pending, { kind: 'matmul' }>;
    const a = this.view(p.a, busy), b = this.view(p.b, busy);
    if (m.pending === null) return;
    m.inner = runKernel(this.inner, 'matmul', a, b);
    this.counts.dispatches++;
    if (this.debug) console.log(`[heed fusion] matmul -> [${m.shape.join(',')}]`);
    this.retire(m);
  }

  /**
   * The outputs of a built plan with a fused matmul: one `matmulElementwise` call, or the matmul
   * and then the program (absent or declined); null (nothing kept) when the program was
   * declined and `mayDecline`.
   */
  private runEpilogue(m: LazyBuffer, built: ReturnType<typeof buildProgram>, mayDecline: boolean): DataId[] | null {
    const p = m.pending as Extract<Pending, { kind: 'matmul' }>;
    const a = this.view(p.a), b = this.view(p.b);
    const given = built.leaves.map((v, i) => (i === built.product ? null : { ...v, data: (v.data as LazyBuffer).inner as DataId }));
    const { program, inputs } = reframe(built.program, given, matmulShape(p));
    if (this.inner.matmulElementwise !== undefined) {
      const ids = runFusedKernel(this.inner, 'matmulElementwise', a, b, program, inputs);
      this.counts.dispatches++;
      if (ids !== null) return ids;
    }
    // no epilogue kernel (or declined): the product, then the rest of the program reading it
    const inner = this.inner;
    return runMatmulThenProgram({
      matmul: (x, y) => { this.counts.dispatches++; return runKernel(inner, 'matmul', x, y); },
      elementwise: (q, vs) => {
        if (inner.elementwise !== undefined) this.counts.dispatches++;
        return runFusedKernel(inner, 'elementwise', q, vs) ?? (mayDecline ? null : this.byPrimitives(q, vs));
      },
      copy: (v) => runKernel(inner, 'copy', v),
      free: (d) => runKernel(inner, 'free', d),
    }, a, b, program, inputs);
  }

  /** Runs `program` op by op on the inner backend (no `elementwise`, or declined), counting each primitive call. */
  private byPrimitives(program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] {
    this.counts.dispatches += program.exprs.filter((e) => e.op !== 'input' && e.op !== 'rowInput').length;
    return runProgramByPrimitives(this.inner, program, inputs);
  }

  /** Runs a built plan; false (nothing done) when the backend declines it and `mayDecline`. */
  private runPlan(plan: Plan, built: ReturnType<typeof buildProgram>, mayDecline: boolean): boolean {
    const { program, leaves, outputs } = built;
    let ids: DataId[] | null;
    if (plan.matmul !== null) {
      ids = this.runEpilogue(plan.matmul, built, mayDecline);
      if (ids === null) return false;
    } else {
      const inputs = leaves.map((v) => ({ ...v, data: (v.data as LazyBuffer).inner as DataId }));
      // A lone copy (e.g. a permuted view made contiguous for a matmul) is the backend's own copy kernel.
      const lone = program.exprs.length === 1 && program.outputs.length === 1 && program.exprs[0].op === 'input';
      ids = lone ? [runKernel(this.inner, 'copy', inputs[0])] : runFusedKernel(this.inner, 'elementwise', program, inputs);
      if (ids === null) {
        if (mayDecline) return false;
        ids = this.byPrimitives(program, inputs);
      }
      if (lone || this.inner.elementwise !== undefined) this.counts.dispatches++; // the copy, or the (declined) program call
    }
    this.counts.programs++;
    if (this.debug) console.log(`[heed fusion] ${plan.matmul !== null ? 'matmul + ' : ''}${describe(program)}`);
    const done = ids;
    outputs.forEach((b, i) => { b.inner = done[i]; });
    for (const n of plan.fused) if (!built.kept.has(n)) this.retire(n); // kept: still pending, recomputed where read
    for (const n of plan.fused) if (n.inner === null && n.pending === null && n.freed && n.uses === 0) this.live.delete(n);
    return true;
  }
}

/**
 * What to compute first when the one-root program of `plan` is declined: its other outputs
 * (each then one input instead of one output and its own inputs), else the root's fused
 * operands. Empty when neither exists (the root alone: run op by op).
 */
function splitFirst(plan: Plan, outputs: readonly LazyBuffer[]): LazyBuffer[] {
  const others = outputs.filter((b) => !plan.roots.includes(b));
  if (others.length > 0) return others;
  const fused = new Set(plan.fused);
  const root = plan.roots[0];
  return root.pending === null ? [] : operands(root.pending).map((v) => v.data as LazyBuffer)
    .filter((o) => fused.has(o) && o.pending !== null && o.pending.kind !== 'fill');
}

function isView(a: unknown): a is StridedView {
  return typeof a === 'object' && a !== null && 'data' in a && 'strides' in a && 'shape' in a;
}

function outShape(kernel: (typeof FUSED_NAMES)[number], args: readonly unknown[]): readonly number[] {
  const x = args[0] as StridedView;
  switch (kernel) {
    case 'attention': { const v = args[2] as StridedView; return [...x.shape.slice(0, -1), v.shape[v.shape.length - 1]]; }
    case 'topk': return [...x.shape.slice(0, -1), args[1] as number];
    case 'linear': return [x.shape[0], (args[1] as StridedView).shape[0]];
    case 'conv2d': { const w = args[1] as StridedView; const p = args[3] as Conv2dParams; return [x.shape[0], w.shape[0], p.out[0], p.out[1]]; }
    default: return x.shape;
  }
}

/** Shape of output `i` of a fused kernel returning several buffers (adam, attentionBackward: input i's; attentionForward: out, lse). */
function tupleShape(kernel: (typeof FUSED_NAMES)[number], args: readonly unknown[], i: number): readonly number[] {
  if (kernel === 'attentionForward') return i === 0 ? outShape('attention', args) : (args[0] as StridedView).shape.slice(0, -1);
  return (args[i] as StridedView).shape;
}

function outDtype(kernel: (typeof FUSED_NAMES)[number], args: readonly unknown[]): DType {
  return kernel === 'argsort' || kernel === 'topk' ? 'int32' : (args[0] as StridedView).dtype;
}

function describe(p: ElementwiseProgram): string {
  const names = p.exprs.map((e) => {
    switch (e.op) {
      case 'input': return `in${e.input}`;
      case 'rowInput': return `row${e.input}`;
      case 'const': return String(e.value);
      case 'unary': case 'binary': return e.fn;
      case 'reduce': return `${e.fn}/`;
      case 'where': case 'cast': return e.op;
    }
  });
  const folds = p.reduceAxes ? ` folding ${p.reduceAxes} trailing dims` : '';
  return `elementwise [${p.shape.join(',')}]${folds} ${p.exprs.length} exprs -> ${p.outputs.length} out: ${names.join(' ')}`;
}

/** `p` reading the originals of pending CSE aliases (same values, same layout), so repeated chains share all the way down. */
function unalias(p: Pending): Pending {
  const real = (v: StridedView): StridedView => {
    const b = v.data as LazyBuffer;
    return b.aliasOf !== null && b.pending !== null ? { ...v, data: b.aliasOf } : v;
  };
  switch (p.kind) {
    case 'fill': return p;
    case 'copy': case 'unary': case 'cast': case 'reduce': return { ...p, x: real(p.x) };
    case 'binary': case 'matmul': return { ...p, a: real(p.a), b: real(p.b) };
    case 'where': return { ...p, cond: real(p.cond), a: real(p.a), b: real(p.b) };
  }
}

function isProgramReduce(op: ReduceOp): op is ProgramReduceOp {
  return (PROGRAM_REDUCE_OPS as readonly string[]).includes(op);
}

function debugFusion(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.HEED_DEBUG;
  return env !== undefined && env.split(',').includes('fusion');
}


/**
 * A backend factory whose backends are `factory`'s, wrapped in {@link LazyBackend}: register it
 * instead of the plain factory to run with lazy execution and fusion (same name by default).
 *
 * @example
 * ```ts
 * registerBackend(lazyBackendFactory({ name: 'cpu', priority: 1, create: () => new CpuBackend() }));
 * await setBackend('cpu'); // elementwise chains now run as fused kernels
 * ```
 */
export function lazyBackendFactory(factory: BackendFactory, options: LazyOptions = {}): BackendFactory {
  const name = options.name ?? factory.name;
  const wrap = (b: Backend): Backend => (b instanceof LazyBackend ? b : new LazyBackend(b, { ...options, name }));
  return {
    name,
    priority: factory.priority,
    ...(factory.async === true ? { async: true } : {}),
    create: () => {
      const b = factory.create();
      return b instanceof Promise ? b.then(wrap) : wrap(b);
    },
  };
}
