// SPDX-License-Identifier: MIT
// Lazy execution as a decorator over any backend (like Burn's Fusion<B>): elementwise primitives
// (fill, copy, unary, binary, where, cast) are recorded, not run; a value is computed when it is
// needed — read, used by a non-elementwise kernel (matmul, reduce, gather, fused kernels...), or
// `flush()` — and then the whole pending elementwise graph behind it runs as ONE fused program
// (the inner backend's optional `elementwise` kernel; op by op when it has none or declines).
// Invariants:
// - a recorded buffer that core frees before it is needed and that nothing pending reads is
//   never computed; one that is still read by a pending node lives on inside the graph;
// - a node is fused into its consumer across an identity edge (the consumer reads the whole
//   buffer, contiguous, same shape) or an expand edge (it is broadcast along size-1 dims; then it
//   is recomputed per element, so only when nothing else needs it); any other view makes it a
//   kernel input (computed first), and a pending fill is a constant whatever the view;
// - every intermediate of a fused program that is still alive (not freed by core, or read by a
//   pending node outside the program) is written out, so nothing is computed twice;
// - validation stays in core's ops (eager); this layer sees only valid calls.
import { FUSED_KERNEL_NAMES, type Backend, type BackendCapabilities, type BinaryOp, type Conv2dParams, type DataId, type RandomKind, type ReduceOp, type StridedView, type UnaryOp } from '../backend.js';
import type { DType, TypedArray } from '../dtype.js';
import { HeedError } from '../errors.js';
import { contiguousStrides, sizeOf } from '../shape.js';
import { runProgramByPrimitives, type ElementwiseExpr, type ElementwiseProgram } from './program.js';
import type { BackendFactory } from '../registry.js';
import { runFusedKernel, runKernel } from '../kernel-dispatch.js';

/** A recorded elementwise primitive; its operands' `data` are LazyBuffers. */
type Pending =
  | { readonly kind: 'fill'; readonly value: number }
  | { readonly kind: 'copy'; readonly x: StridedView }
  | { readonly kind: 'unary'; readonly fn: UnaryOp; readonly x: StridedView }
  | { readonly kind: 'binary'; readonly fn: BinaryOp; readonly a: StridedView; readonly b: StridedView }
  | { readonly kind: 'where'; readonly cond: StridedView; readonly a: StridedView; readonly b: StridedView }
  | { readonly kind: 'cast'; readonly x: StridedView };

/** The lazy layer's DataId: a computed inner buffer, or a pending node. */
class LazyBuffer {
  inner: DataId | null = null;
  pending: Pending | null = null;
  /** Freed by core (no tensor refers to it any more). */
  freed = false;
  /** Number of operand slots of pending nodes that read this buffer. */
  uses = 0;
  constructor(readonly dtype: DType, readonly shape: readonly number[]) {}
}

/**
 * Counters of what the lazy layer did, for tests, `HEED_DEBUG=fusion` and benchmarks.
 *
 * @example
 * ```ts
 * const { recorded, programs, dispatches, skipped }: LazyStats = lazyBackend.stats();
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
}

function operands(p: Pending): readonly StridedView[] {
  switch (p.kind) {
    case 'fill': return [];
    case 'copy': case 'unary': case 'cast': return [p.x];
    case 'binary': return [p.a, p.b];
    case 'where': return [p.cond, p.a, p.b];
  }
}

function lazy(data: DataId, op: string): LazyBuffer {
  if (!(data instanceof LazyBuffer)) throw new HeedError(op, 'the buffer does not belong to this lazy backend (it was made by another backend); move the tensor with .to() first.');
  return data;
}

/** The fused kernels forwarded to the inner backend: all but `elementwise`, which the lazy layer calls itself. */
const FUSED_NAMES = FUSED_KERNEL_NAMES.filter((k): k is Exclude<FusedKernelKey, 'elementwise'> => k !== 'elementwise');
type FusedKernelKey = (typeof FUSED_KERNEL_NAMES)[number];

/**
 * Wraps `inner` so elementwise work is recorded and run as fused programs (see the file
 * comment). Usually reached through {@link lazyBackendFactory}.
 *
 * @example
 * ```ts
 * const backend = new LazyBackend(new CpuBackend());
 * backend.stats(); // { recorded, programs, dispatches, skipped }
 * ```
 */
export class LazyBackend implements Backend {
  readonly name: string;
  readonly apiVersion: number;
  readonly capabilities: BackendCapabilities;
  readSync?: (data: DataId, dtype: DType, size: number) => TypedArray;
  private readonly live = new Set<LazyBuffer>();
  private counts: LazyStats = { recorded: 0, programs: 0, dispatches: 0, skipped: 0 };
  private readonly debug: boolean;

  constructor(readonly inner: Backend, options: { name?: string; debug?: boolean } = {}) {
    this.name = options.name ?? inner.name;
    this.apiVersion = inner.apiVersion;
    this.capabilities = inner.capabilities;
    this.debug = options.debug ?? debugFusion();
    if (inner.readSync !== undefined) {
      const readSync = inner.readSync.bind(inner);
      this.readSync = (data, dtype, size) => readSync(this.realize(lazy(data, 'readSync')), dtype, size);
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
  }

  /** A copy of the counters since the backend was made (or since `resetStats`). */
  stats(): LazyStats { return { ...this.counts }; }
  /** Zeroes the counters. */
  resetStats(): void { this.counts = { recorded: 0, programs: 0, dispatches: 0, skipped: 0 }; }

  upload(values: TypedArray, dtype: DType): DataId { return this.ready(runKernel(this.inner, 'upload', values, dtype), dtype, [values.length]); }
  fill(size: number, value: number, dtype: DType): DataId { return this.record({ kind: 'fill', value }, dtype, [size]); }
  copy(x: StridedView): DataId { return this.record({ kind: 'copy', x }, x.dtype, x.shape); }
  unary(fn: UnaryOp, x: StridedView, outDtype: DType): DataId { return this.record({ kind: 'unary', fn, x }, outDtype, x.shape); }
  binary(fn: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId { return this.record({ kind: 'binary', fn, a, b }, outDtype, a.shape); }
  where(cond: StridedView, a: StridedView, b: StridedView): DataId { return this.record({ kind: 'where', cond, a, b }, a.dtype, cond.shape); }
  cast(x: StridedView, dtype: DType): DataId { return this.record({ kind: 'cast', x }, dtype, x.shape); }

  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    const shape = x.shape.filter((_, d) => !axes.includes(d));
    return this.eager(() => runKernel(this.inner, 'reduce', op, this.view(x), axes, outDtype), outDtype, shape, 'reduce');
  }
  matmul(a: StridedView, b: StridedView): DataId {
    const batch = a.shape.slice(0, -2);
    return this.eager(() => runKernel(this.inner, 'matmul', this.view(a), this.view(b)), a.dtype, [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]], 'matmul');
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
    return runKernel(this.inner, 'read', this.realize(lazy(data, 'read')), dtype, size);
  }

  free(data: DataId): void {
    const b = lazy(data, 'free');
    if (b.freed) return;
    b.freed = true;
    if (b.uses === 0) this.drop(b);
  }

  /** Computes every pending buffer that is still alive, then flushes the inner backend. */
  flush(): void {
    for (const b of [...this.live]) if (b.pending !== null && !b.freed) this.realize(b);
    if (this.inner.flush !== undefined) runKernel(this.inner, 'flush');
  }

  dispose(): void {
    this.flush();
    this.inner.dispose?.();
  }

  // ---- internals ----

  private record(p: Pending, dtype: DType, shape: readonly number[]): DataId {
    const b = new LazyBuffer(dtype, shape.slice());
    for (const v of operands(p)) lazy(v.data, p.kind).uses++;
    b.pending = p;
    this.live.add(b);
    this.counts.recorded++;
    return b;
  }

  private ready(inner: DataId, dtype: DType, shape: readonly number[]): LazyBuffer {
    const b = new LazyBuffer(dtype, shape.slice());
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
  private view(v: StridedView): StridedView {
    return { ...v, data: this.realize(lazy(v.data, 'view')) };
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
    const p = b.pending;
    if (p !== null) {
      b.pending = null;
      this.counts.skipped++;
      for (const v of operands(p)) this.release(v.data as LazyBuffer);
    }
  }

  /** The inner buffer of `b`, running its pending graph as one program if needed. */
  private realize(b: LazyBuffer): DataId {
    if (b.inner !== null) return b.inner;
    if (b.pending === null) throw new HeedError('lazy', 'a buffer was used after it was freed (a disposed tensor?).');
    // Plan: the identity-reachable pending nodes fuse; other pending operands are computed first.
    for (;;) {
      const plan = planProgram(b);
      if (plan.first.length === 0) return this.runPlan(b, plan);
      for (const f of plan.first) this.realize(f);
    }
  }

  private runPlan(root: LazyBuffer, plan: Plan): DataId {
    const { program, leaves, nodes, outputs } = buildProgram(root, plan);
    const inputs = leaves.map((v) => ({ ...v, data: (v.data as LazyBuffer).inner as DataId }));
    this.counts.programs++;
    this.counts.dispatches++;
    if (this.debug) console.log(`[heed fusion] ${describe(program)}`);
    // A lone copy (e.g. a permuted view made contiguous for a matmul) is the backend's own copy kernel.
    const lone = program.exprs.length === 1 && program.outputs.length === 1 && program.exprs[0].op === 'input';
    const ids = lone ? [runKernel(this.inner, 'copy', inputs[0])] : runFusedKernel(this.inner, 'elementwise', program, inputs) ?? runProgramByPrimitives(this.inner, program, inputs);
    outputs.forEach((b, i) => { b.inner = ids[i]; });
    for (const n of nodes) {
      const p = n.pending as Pending;
      n.pending = null;
      for (const v of operands(p)) this.release(v.data as LazyBuffer);
    }
    for (const n of nodes) if (n.inner === null && n.freed && n.uses === 0) this.live.delete(n);
    return root.inner as DataId;
  }
}

interface Plan {
  /** Pending buffers to fuse (root included), in dependency order. */
  readonly fused: readonly LazyBuffer[];
  /** Pending non-fill buffers read through a non-identity view: computed before this program. */
  readonly first: readonly LazyBuffer[];
  /** Operand slots of fused nodes that read each fused buffer. */
  readonly internalUses: ReadonlyMap<LazyBuffer, number>;
}

function planProgram(root: LazyBuffer): Plan {
  const fused: LazyBuffer[] = [];
  const seen = new Set<LazyBuffer>();
  const first = new Set<LazyBuffer>();
  const internal = new Map<LazyBuffer, number>();
  const visit = (b: LazyBuffer): void => {
    if (seen.has(b)) return;
    seen.add(b);
    for (const v of operands(b.pending as Pending)) {
      const o = v.data as LazyBuffer;
      if (o.pending === null || o.pending.kind === 'fill') continue;
      if (edgeKind(v, o) === null) { first.add(o); continue; }
      internal.set(o, (internal.get(o) ?? 0) + 1);
      visit(o);
    }
    fused.push(b);
  };
  visit(root);
  // A buffer fused at a smaller (broadcast) shape is recomputed per element of the program, so it
  // can only be fused when nothing else needs its values; otherwise it is computed first.
  for (const b of fused) {
    if (b !== root && !sameShape(b.shape, root.shape) && (!b.freed || b.uses > (internal.get(b) ?? 0))) first.add(b);
  }
  return { fused, first: [...first], internalUses: internal };
}

/**
 * How view `v` (of its reader's shape) reads pending buffer `o`: 'identity' (all of o, in order,
 * same shape), 'expand' (o broadcast along some of its size-1 dims, otherwise in order), or
 * null (any other view: o is then computed first and read as a kernel input).
 */
function edgeKind(v: StridedView, o: LazyBuffer): 'identity' | 'expand' | null {
  if (v.offset !== 0 || v.shape.length !== o.shape.length) return null;
  const c = contiguousStrides(o.shape);
  let expand = false;
  for (let d = 0; d < c.length; d++) {
    if (v.shape[d] === o.shape[d]) {
      if (o.shape[d] !== 1 && v.strides[d] !== c[d]) return null;
    } else if (o.shape[d] === 1 && v.strides[d] === 0) expand = true;
    else return null;
  }
  return expand ? 'expand' : 'identity';
}

/** `v` (a view of its reader's shape, which is `shape` or broadcasts to it) as a view of `shape`. */
function toShape(v: StridedView, shape: readonly number[]): StridedView {
  if (sameShape(v.shape, shape)) return v;
  return { ...v, shape, strides: v.strides.map((s, d) => (v.shape[d] === shape[d] ? s : 0)) };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function buildProgram(root: LazyBuffer, plan: Plan) {
  const exprs: ElementwiseExpr[] = [];
  const leaves: StridedView[] = [];
  const index = new Map<LazyBuffer, number>();
  const constants = new Map<string, number>();
  const leafIndex = new Map<string, number>();
  const leafIds = new Map<LazyBuffer, number>();
  const operand = (v: StridedView): number => {
    const o = v.data as LazyBuffer;
    const fusedAt = index.get(o);
    if (fusedAt !== undefined && o.pending !== null && o.pending.kind !== 'fill') return fusedAt;
    if (o.pending !== null && o.pending.kind === 'fill') {
      const key = `${Object.is(o.pending.value, -0) ? '-0' : o.pending.value}:${o.dtype}`;
      let at = constants.get(key);
      if (at === undefined) {
        at = exprs.push({ op: 'const', value: o.pending.value, dtype: o.dtype }) - 1;
        constants.set(key, at);
      }
      return at;
    }
    let id = leafIds.get(o);
    if (id === undefined) { id = leafIds.size; leafIds.set(o, id); }
    const leaf = toShape(v, root.shape); // read by a broadcast-fused node: its size-1 dims become 0 strides
    const key = `${id}|${leaf.strides.join(',')}|${leaf.offset}`;
    let at = leafIndex.get(key);
    if (at === undefined) {
      at = exprs.push({ op: 'input', input: leaves.length, dtype: leaf.dtype }) - 1;
      leaves.push(leaf);
      leafIndex.set(key, at);
    }
    return at;
  };
  for (const b of plan.fused) {
    const p = b.pending as Pending;
    let e: ElementwiseExpr;
    switch (p.kind) {
      case 'fill': e = { op: 'const', value: p.value, dtype: b.dtype }; break;
      case 'copy': index.set(b, operand(p.x)); continue;
      case 'unary': e = { op: 'unary', fn: p.fn, x: operand(p.x), dtype: b.dtype }; break;
      case 'binary': e = { op: 'binary', fn: p.fn, a: operand(p.a), b: operand(p.b), dtype: b.dtype }; break;
      case 'where': e = { op: 'where', cond: operand(p.cond), a: operand(p.a), b: operand(p.b), dtype: b.dtype }; break;
      case 'cast': e = { op: 'cast', x: operand(p.x), dtype: b.dtype }; break;
    }
    index.set(b, exprs.push(e) - 1);
  }
  // Outputs: the root, and every fused buffer still alive or read by pending nodes elsewhere.
  const outputs: LazyBuffer[] = [root];
  for (const b of plan.fused) {
    if (b === root) continue;
    if (!b.freed || b.uses > (plan.internalUses.get(b) ?? 0)) outputs.push(b);
  }
  const program: ElementwiseProgram = { shape: root.shape, exprs, outputs: outputs.map((b) => index.get(b) as number) };
  return { program, leaves, nodes: plan.fused, outputs };
}

function isView(a: unknown): a is StridedView {
  return typeof a === 'object' && a !== null && 'data' in a && 'strides' in a && 'shape' in a;
}

function outShape(kernel: (typeof FUSED_NAMES)[number], args: readonly unknown[]): readonly number[] {
  const x = args[0] as StridedView;
  switch (kernel) {
    case 'attention': { const v = args[2] as StridedView; return [...x.shape.slice(0, -1), v.shape[v.shape.length - 1]]; }
    case 'topk': return [...x.shape.slice(0, -1), args[1] as number];
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
  const names = p.exprs.map((e) => (e.op === 'input' ? `in${e.input}` : e.op === 'const' ? String(e.value) : e.op === 'unary' || e.op === 'binary' ? e.fn : e.op));
  return `elementwise [${p.shape.join(',')}] ${p.exprs.length} exprs -> ${p.outputs.length} out: ${names.join(' ')}`;
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
export function lazyBackendFactory(factory: BackendFactory, options: { name?: string } = {}): BackendFactory {
  const name = options.name ?? factory.name;
  const wrap = (b: Backend): Backend => (b instanceof LazyBackend ? b : new LazyBackend(b, { name }));
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
