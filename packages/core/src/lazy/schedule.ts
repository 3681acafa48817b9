// SPDX-License-Identifier: MIT
// The fusion scheduler of the lazy layer: which pending nodes behind a buffer (or behind several
// same-shape buffers, on flush) run as ONE ElementwiseProgram, and that program's exprs. The
// program iterates over a *frame* shape X whose trailing k dims a reduction may fold (k = 0:
// plain elementwise). Each fused node is placed either
// - 'full': computed per element of X; reached over an identity edge (same shape, contiguous)
//   or an expand edge (broadcast along size-1 dims: then recomputed per element, so fused only
//   when nothing else needs it), or it is a reduction's operand (prologue fusion);
// - 'row': one value per row (X without its k trailing dims): a reduction of the frame, or an
//   elementwise node of the row shape (size-1 dims aside) read by a 'full' node through a
//   row broadcast (strides 0 over the k trailing dims: epilogue fusion), or read by a row node
//   as a whole (a keepdim reshape).
// - 'full' through a permuted view (e.g. attention heads made contiguous for a matmul): a
//   producer read only there and never written out is computed at the permuted positions,
//   its inputs read through the composed strides (`composeView`), so no copy kernel runs.
// - 'matmul': a pending matmul read over an identity edge (its whole product, in order, at the
//   frame's shape up to size-1 dims) by a 'full' node of a one-root program without reductions:
//   the product is an input slot the backend's `matmulElementwise` fills (its epilogue); at most
//   one per program, its operands computed first.
// Any other edge makes the producer a kernel input, computed first (`first`). Invariants:
// - every fused node that is still alive, or read by a pending node outside the program, is
//   an output, so nothing is computed twice; a 'full' output is element-level in the program
//   and a 'row' output row-level (else the plan asks for it to be computed on its own);
// - a pending fill is a constant through any view.
import type { BinaryOp, StridedView, UnaryOp } from '../backend.js';
import { contiguousStrides, isContiguous, sizeOf } from '../shape.js';
import { matmulShape, operands, type LazyBuffer, type Pending } from './graph.js';
import { programLevels, type ElementwiseExpr, type ElementwiseProgram } from './program.js';

type Place = 'full' | 'row';

/**
 * What to run for some pending roots: the fused nodes, their places, the frame, and the pending
 * nodes to compute first (then plan again).
 *
 * @example
 * ```ts
 * const plan = planProgram([b]);
 * if (plan.first.length === 0) buildProgram(plan);
 * ```
 */
export interface Plan {
  readonly roots: readonly LazyBuffer[];
  /** Pending buffers to fuse (roots included), in dependency order. */
  readonly fused: readonly LazyBuffer[];
  readonly place: ReadonlyMap<LazyBuffer, Place>;
  /** Nodes computed at permuted positions: a view of the frame's shape over the node's contiguous buffer. */
  readonly xform: ReadonlyMap<LazyBuffer, Strides>;
  /** Pending non-fill buffers that cannot be fused: computed before this program. */
  readonly first: readonly LazyBuffer[];
  /** Operand slots of fused nodes that read each fused buffer. */
  readonly internalUses: ReadonlyMap<LazyBuffer, number>;
  /** The iteration shape and how many of its trailing dims the reductions fold. */
  readonly shape: readonly number[];
  readonly reduceAxes: number;
  /** The pending matmul whose product the program reads as its epilogue (one of `fused`), or null. */
  readonly matmul: LazyBuffer | null;
}

/**
 * Options of {@link planProgram}: a forced row frame for a row-shaped root, or no row edges at all.
 *
 * @example
 * ```ts
 * planProgram([b], { noRow: true });
 * ```
 */
export interface PlanOptions {
  readonly frame?: { readonly shape: readonly number[]; readonly k: number };
  readonly noRow?: boolean;
}

const frameOf = (b: LazyBuffer): { shape: readonly number[]; k: number } | null => {
  const p = b.pending;
  return p !== null && p.kind === 'reduce' ? { shape: p.x.shape, k: p.axes } : null;
};

/**
 * Plans the program computing `roots` (pending, same shape; a reduction root alone).
 *
 * @example
 * ```ts
 * const plan = planProgram([b]);
 * ```
 */
export function planProgram(roots: readonly LazyBuffer[], options: PlanOptions = {}): Plan {
  const root0 = roots[0];
  const rootFrame = frameOf(root0);
  const X: readonly number[] = (options.frame?.shape ?? rootFrame?.shape ?? root0.shape).slice();
  let k = options.frame?.k ?? rootFrame?.k ?? 0;
  const rootPlace: Place = options.frame !== undefined || rootFrame !== null ? 'row' : 'full';
  const rowShape = (): readonly number[] => X.slice(0, X.length - k);
  let candidate: { shape: readonly number[]; k: number } | null = null;
  const place = new Map<LazyBuffer, Place>();
  const fused: LazyBuffer[] = [];
  const first = new Set<LazyBuffer>();
  const internal = new Map<LazyBuffer, number>();
  const xform = new Map<LazyBuffer, Strides>();
  /** Whether `t` (a view of the frame's shape over producer o's buffer) can be o's positions: o is read once, here, never written out, and t's steps stay inside o's dims. */
  const permutable = (t: Strides | null, o: LazyBuffer): t is Strides => {
    const p = o.pending;
    if (t === null || p === null || p.kind === 'fill' || p.kind === 'reduce' || p.kind === 'matmul' || !o.freed || o.uses !== 1 || place.has(o)) return false;
    return composeView(t, o.shape, { data: o, dtype: o.dtype, shape: o.shape, strides: contiguousStrides(o.shape), offset: 0 }) !== null;
  };

  const edge = (v: StridedView, o: LazyBuffer, readerPlace: Place, readerShape: readonly number[]): Place | null => {
    const f = frameOf(o);
    if (readerPlace === 'row') {
      const whole = readsWhole(v, o) && squeezedEqual(o.shape, rowShape());
      if (f !== null) return whole && sameShape(f.shape, X) && f.k === k ? 'row' : null;
      return whole ? 'row' : null;
    }
    const kind = f === null ? edgeKind(v, o) : null;
    if (kind === 'identity') return 'full';
    const rowOk = options.noRow !== true && sameShape(readerShape, X);
    // a broadcast producer is better computed once per row than per element, when it leads to a reduction
    if (kind === 'expand') return rowOk && (place.get(o) === 'row' || reachesReduce(o)) && rowEdge(v, o) ? 'row' : 'full';
    if (!rowOk) return null;
    if (f !== null) {
      if (!sameShape(f.shape, X)) {
        // a row-shaped reader of a reduction: the whole program may run in that reduction's frame
        if (k === 0 && candidate === null && roots.length === 1 && readsWhole(v, o) && squeezedEqual(X, o.shape)) candidate = f;
        return null;
      }
      if (k === 0 && rowBroadcast(v, X, f.k, o.shape)) { k = f.k; return 'row'; }
      return f.k === k && rowBroadcast(v, X, k, o.shape) ? 'row' : null;
    }
    return rowEdge(v, o) ? 'row' : null;
  };
  /** Whether `v` reads elementwise node `o` as a row broadcast of the frame (fixing k when unset). */
  const rowEdge = (v: StridedView, o: LazyBuffer): boolean => {
    if (k > 0) return rowBroadcast(v, X, k, o.shape);
    const inferred = inferRowAxes(v, X, o.shape);
    if (inferred > 0) k = inferred;
    return inferred > 0;
  };

  let matmul: LazyBuffer | null = null;
  /** Fuses pending matmul `o` read by `v` as the program's product slot, if it can be (else: computed first). */
  const takeMatmul = (v: StridedView, o: LazyBuffer, readerPlace: Place, readerShape: readonly number[]): void => {
    const p = o.pending as Extract<Pending, { kind: 'matmul' }>;
    // a multi-root group (same-shape buffers, e.g. every parameter's optimizer update) is worth more than one product's epilogue
    const ok = roots.length === 1 && readerPlace === 'full' && sameShape(readerShape, X) && sameShape(v.shape, X) && readsWhole(v, o) && squeezedEqual(X, matmulShape(p));
    if (!ok || (matmul !== null && matmul !== o)) { first.add(o); return; }
    internal.set(o, (internal.get(o) ?? 0) + 1);
    if (matmul === o) return;
    matmul = o;
    place.set(o, 'full');
    for (const w of operands(p)) if ((w.data as LazyBuffer).pending !== null) first.add(w.data as LazyBuffer);
    fused.push(o);
  };

  const visit = (b: LazyBuffer, pl: Place): void => {
    const had = place.get(b);
    if (had !== undefined) {
      if (had !== pl) first.add(b); // reached as both: compute it on its own
      return;
    }
    place.set(b, pl);
    const p = b.pending as Pending;
    const readerPlace: Place = p.kind === 'reduce' ? 'full' : pl;
    const readerShape = p.kind === 'reduce' ? p.x.shape : b.shape;
    const mine = xform.get(b);
    for (const v of operands(p)) {
      const o = v.data as LazyBuffer;
      if (o.pending === null || o.pending.kind === 'fill') continue;
      if (o.pending.kind === 'matmul') {
        if (mine === undefined) takeMatmul(v, o, readerPlace, readerShape);
        else first.add(o);
        continue;
      }
      let to: Place | null;
      if (mine !== undefined) {
        // b runs at permuted positions: its producers can only follow it there
        const t = composeView(mine, b.shape, v);
        to = permutable(t, o) ? 'full' : null;
        if (t !== null && to !== null) xform.set(o, t);
      } else {
        to = edge(v, o, readerPlace, readerShape);
        const t: Strides = v;
        if (to === null && readerPlace === 'full' && sameShape(readerShape, X) && permutable(t, o)) { xform.set(o, t); to = 'full'; }
      }
      if (to === null) { first.add(o); continue; }
      internal.set(o, (internal.get(o) ?? 0) + 1);
      visit(o, to);
    }
    fused.push(b);
  };
  for (const r of roots) visit(r, rootPlace);
  if (candidate !== null && k === 0 && options.frame === undefined) {
    const c: { shape: readonly number[]; k: number } = candidate;
    return planProgram(roots, { frame: c });
  }
  // A 'full' node at a smaller (broadcast) shape is recomputed per element of the program, so
  // it is fused only when nothing else needs its values; otherwise it is computed first.
  const mm = matmul as LazyBuffer | null; // (assigned in takeMatmul)
  for (const b of fused) {
    if (!roots.includes(b) && b !== mm && place.get(b) === 'full' && !sameShape(b.shape, X) && escapes(b, internal)) first.add(b);
  }
  // matmulElementwise takes plain elementwise epilogues only: under a reduction the product is computed first
  if (mm !== null && k > 0) {
    first.add(mm);
    return { roots, fused: fused.filter((b) => b !== mm), place, xform, first: [...first], internalUses: internal, shape: X, reduceAxes: k, matmul: null };
  }
  return { roots, fused, place, xform, first: [...first], internalUses: internal, shape: X, reduceAxes: k, matmul: mm };
}

/** Whether pending elementwise nodes lead from `b` to a pending reduction (a few levels deep). */
function reachesReduce(b: LazyBuffer, depth = 8): boolean {
  const p = b.pending;
  if (p === null || p.kind === 'fill' || depth === 0) return false;
  if (p.kind === 'reduce') return true;
  return operands(p).some((v) => reachesReduce(v.data as LazyBuffer, depth - 1));
}

function escapes(b: LazyBuffer, internal: ReadonlyMap<LazyBuffer, number>): boolean {
  return !b.freed || b.uses > (internal.get(b) ?? 0);
}

/**
 * The program of a plan with no `first` left: exprs, the leaf views (its inputs), and the
 * buffers its outputs fill (roots first). With a fused matmul, leaf `product` is a placeholder
 * (a contiguous view of the pending matmul at the frame's shape): the product's slot. `misplaced` lists 'full' outputs whose value turned
 * out row-level (computed only from row values): the caller computes them on their own.
 *
 * @example
 * ```ts
 * const { program, leaves, outputs } = buildProgram(plan);
 * ```
 */
export function buildProgram(plan: Plan) {
  const X = plan.shape;
  const k = plan.reduceAxes;
  const rowShape = X.slice(0, X.length - k);
  const exprs: ElementwiseExpr[] = [];
  const leaves: StridedView[] = [];
  const index = new Map<LazyBuffer, number>();
  /** Expr index of each constant so far (one per value and dtype; -0 apart from 0). */
  const constants: number[] = [];
  /** Per leaf (input) so far: its expr index and the place and buffer it was read at. */
  const leafAt: { readonly at: number; readonly place: Place; readonly o: LazyBuffer }[] = [];
  let product = -1;
  const operand = (v: StridedView, readerPlace: Place, reader: LazyBuffer): number => {
    const o = v.data as LazyBuffer;
    const fusedAt = index.get(o);
    if (fusedAt !== undefined && o.pending !== null && o.pending.kind !== 'fill') return fusedAt;
    if (o.pending !== null && o.pending.kind === 'fill') {
      const value = o.pending.value;
      for (const at of constants) {
        const c = exprs[at] as { readonly value: number; readonly dtype: string };
        if (c.dtype === o.dtype && Object.is(c.value, value)) return at; // NaN matches NaN, -0 not 0
      }
      const at = exprs.push({ op: 'const', value, dtype: o.dtype }) - 1;
      constants.push(at);
      return at;
    }
    // read by a broadcast-fused node: its size-1 dims become 0 strides; by a row node: a row view
    const t = plan.xform.get(reader);
    const leaf = t !== undefined ? composeView(t, reader.shape, v) as StridedView : readerPlace === 'full' ? toShape(v, X) : rowView(v, rowShape);
    for (let j = 0; j < leaves.length; j++) {
      const l = leaves[j], seen = leafAt[j];
      if (seen.o === o && seen.place === readerPlace && l.offset === leaf.offset && sameShape(l.strides, leaf.strides)) return seen.at; // same numbers
    }
    const at = exprs.push({ op: readerPlace === 'full' ? 'input' : 'rowInput', input: leaves.length, dtype: leaf.dtype }) - 1;
    leaves.push(leaf);
    leafAt.push({ at, place: readerPlace, o });
    return at;
  };
  for (const b of plan.fused) {
    const p = b.pending as Pending;
    const pl = plan.place.get(b) as Place;
    let e: ElementwiseExpr;
    switch (p.kind) {
      case 'fill': e = { op: 'const', value: p.value, dtype: b.dtype }; break;
      case 'matmul':
        product = leaves.length;
        leaves.push({ data: b, dtype: b.dtype, shape: X, strides: contiguousStrides(X), offset: 0 });
        leafAt.push({ at: exprs.length, place: 'full', o: b });
        e = { op: 'input', input: product, dtype: b.dtype };
        break;
      case 'copy': index.set(b, operand(p.x, pl, b)); continue;
      case 'reduce': e = { op: 'reduce', fn: p.fn, x: operand(p.x, 'full', b), dtype: b.dtype }; break;
      case 'unary': e = { op: 'unary', fn: p.fn, x: operand(p.x, pl, b), dtype: b.dtype }; break;
      case 'binary': e = { op: 'binary', fn: p.fn, a: operand(p.a, pl, b), b: operand(p.b, pl, b), dtype: b.dtype }; break;
      case 'where': e = { op: 'where', cond: operand(p.cond, pl, b), a: operand(p.a, pl, b), b: operand(p.b, pl, b), dtype: b.dtype }; break;
      case 'cast': e = { op: 'cast', x: operand(p.x, pl, b), dtype: b.dtype }; break;
    }
    index.set(b, exprs.push(e) - 1);
  }
  // Outputs: the roots, and every fused buffer still alive or read by pending nodes elsewhere,
  // except those left pending to be recomputed where they are read (`kept`).
  const kept = recomputable(plan);
  const outputs: LazyBuffer[] = plan.roots.filter((b) => !kept.has(b));
  for (const b of plan.fused) if (!plan.roots.includes(b) && !kept.has(b) && escapes(b, plan.internalUses)) outputs.push(b);
  const program: ElementwiseProgram = {
    shape: X, exprs, outputs: outputs.map((b) => index.get(b) as number), ...(k > 0 ? { reduceAxes: k } : {}),
  };
  const misplaced: LazyBuffer[] = [];
  if (k > 0) {
    const { row } = programLevels(program);
    outputs.forEach((b, i) => { if (row[program.outputs[i]] !== (plan.place.get(b) === 'row')) misplaced.push(b); });
  }
  return { program, leaves, outputs, misplaced, product, kept };
}

/** At most this many fused nodes are left pending by one program (bounds the recomputation). */
const MAX_KEPT = 24;
/** Of which at most this many are transcendental (the costly ones to compute twice). */
const MAX_KEPT_COSTLY = 2;
const COSTLY: ReadonlySet<UnaryOp | BinaryOp> = new Set<UnaryOp | BinaryOp>(['exp', 'expm1', 'log', 'log1p', 'sin', 'cos', 'tanh', 'sigmoid', 'erf', 'pow', 'atan2']);

/**
 * Rematerialization: the fused intermediates of a plan without reductions or permuted nodes
 * that autograd keeps for a backward (`saved`: a chain's values its backward will read), with
 * the fused nodes they are computed from that are not outputs. They are not
 * written out: they stay pending, and the backward's program that reads them recomputes them
 * from the same inputs, bit for bit, instead of this program writing one buffer per
 * intermediate and the backward reading each back (tanh-GELU from primitives: 10 outputs -> 3).
 * One computed from the matmul product slot is written out; past MAX_KEPT / MAX_KEPT_COSTLY
 * nodes, all are.
 */
function recomputable(plan: Plan): ReadonlySet<LazyBuffer> {
  const none = new Set<LazyBuffer>();
  if (plan.reduceAxes > 0 || plan.xform.size > 0) return none;
  const fused = new Set(plan.fused);
  // candidates: what autograd keeps for a backward, never the first root (the buffer needed
  // now); an intermediate that escapes, or a grouped root another root is computed from
  const isCandidate = (b: LazyBuffer): boolean => b.saved && b !== plan.roots[0] && b !== plan.matmul && sameShape(b.shape, plan.shape)
    && (plan.roots.includes(b) ? (plan.internalUses.get(b) ?? 0) > 0 : escapes(b, plan.internalUses));
  const wanted = new Set(plan.fused.filter(isCandidate));
  for (;;) {
    if (wanted.size === 0) return none;
    const outputs = new Set<LazyBuffer>();
    for (const b of plan.fused) if (!wanted.has(b) && (plan.roots.includes(b) || escapes(b, plan.internalUses))) outputs.add(b);
    const kept = new Set<LazyBuffer>();
    let costly = 0;
    const keep = (b: LazyBuffer): boolean => {
      if (kept.has(b) || outputs.has(b) || !fused.has(b)) return true;
      const p = b.pending as Pending;
      if (p.kind === 'reduce' || p.kind === 'matmul') return false;
      kept.add(b);
      if ((p.kind === 'unary' || p.kind === 'binary') && COSTLY.has(p.fn)) costly++;
      return operands(p).every((v) => keep(v.data as LazyBuffer));
    };
    // one that cannot be kept (computed from the product slot) is written out; try the rest again
    const failed = [...wanted].find((b) => !keep(b));
    if (failed !== undefined) { wanted.delete(failed); continue; }
    return kept.size <= MAX_KEPT && costly <= MAX_KEPT_COSTLY ? kept : none;
  }
}

/**
 * How view `v` (of its reader's shape) reads pending buffer `o`: 'identity' (all of o, in order,
 * same shape), 'expand' (o broadcast along some of its size-1 dims, otherwise in order), or
 * null (any other view).
 */
function edgeKind(v: StridedView, o: LazyBuffer): 'identity' | 'expand' | null {
  if (v.offset !== 0 || v.shape.length !== o.shape.length) return null;
  let expand = false;
  // walk from the last dim, with c = o's contiguous stride of dim d
  for (let d = o.shape.length - 1, c = 1; d >= 0; c *= o.shape[d], d--) {
    if (v.shape[d] === o.shape[d]) {
      if (o.shape[d] !== 1 && v.strides[d] !== c) return null;
    } else if (o.shape[d] === 1 && v.strides[d] === 0) expand = true;
    else return null;
  }
  return expand ? 'expand' : 'identity';
}

/** Whether `v` reads all of `o` in its row-major order (any reshape of it: strides contiguous over v's own shape). */
function readsWhole(v: StridedView, o: LazyBuffer): boolean {
  return v.offset === 0 && sizeOf(v.shape) === sizeOf(o.shape) && isContiguous(v.shape, v.strides);
}

/** Whether `v` (of shape X) reads buffer `oShape` (the row shape, size-1 dims aside) as a broadcast over X's k trailing dims. */
function rowBroadcast(v: StridedView, X: readonly number[], k: number, oShape: readonly number[]): boolean {
  if (v.offset !== 0 || !sameShape(v.shape, X)) return false;
  const rows = X.slice(0, X.length - k);
  if (!squeezedEqual(oShape, rows)) return false;
  const c = contiguousStrides(rows);
  for (let d = 0; d < X.length; d++) {
    if (X[d] === 1) continue;
    if (v.strides[d] !== (d < rows.length ? c[d] : 0)) return false;
  }
  return true;
}

/** The smallest k for which `v` is a row broadcast of `oShape` over X's k trailing dims (0: none). */
function inferRowAxes(v: StridedView, X: readonly number[], oShape: readonly number[]): number {
  for (let k = 1; k <= X.length; k++) if (rowBroadcast(v, X, k, oShape)) return k;
  return 0;
}

/** The strides part of a view: how a frame's index reaches a buffer. */
type Strides = { readonly shape: readonly number[]; readonly strides: readonly number[]; readonly offset: number };

/**
 * `t` (a view of the frame's shape over a contiguous buffer of shape `S`) followed by `w` (a view
 * of shape S): the composite view of the frame's shape over w's buffer; null when a step of t
 * carries across S's dims (then no strides express it).
 */
function composeView(t: Strides, S: readonly number[], w: StridedView): StridedView | null {
  const cs = contiguousStrides(S);
  const idx0 = S.map(() => 0);
  let rem = t.offset;
  for (let d = 0; d < S.length; d++) {
    if (S[d] === 1) continue;
    idx0[d] = Math.floor(rem / cs[d]);
    rem -= idx0[d] * cs[d];
  }
  if (rem !== 0) return null;
  const span = S.map(() => 0);
  const strides: number[] = [];
  for (let e = 0; e < t.shape.length; e++) {
    const n = t.shape[e], st = t.strides[e];
    if (n === 1 || st === 0) { strides.push(0); continue; }
    let d = -1;
    for (let q = 0; q < S.length && d < 0; q++) if (S[q] !== 1 && st >= cs[q] && st % cs[q] === 0 && st < cs[q] * S[q]) d = q;
    if (d < 0) return null;
    span[d] += (n - 1) * (st / cs[d]);
    strides.push((st / cs[d]) * w.strides[d]);
  }
  if (S.some((size, d) => idx0[d] + span[d] > size - 1 && size > 0)) return null;
  const offset = S.reduce((o, _, d) => o + idx0[d] * w.strides[d], w.offset);
  return { ...w, shape: t.shape, strides, offset };
}

/** `v` (a view of its reader's shape, which is `shape` or broadcasts to it) as a view of `shape`. */
function toShape(v: StridedView, shape: readonly number[]): StridedView {
  if (sameShape(v.shape, shape)) return v;
  return { ...v, shape, strides: v.strides.map((s, d) => (v.shape[d] === shape[d] ? s : 0)) };
}

/**
 * `program` (without reductions) and its input views at `shape`, which equals the program's
 * shape but for size-1 dims (the product's shape of a fused matmul): same elements, same order.
 *
 * @example
 * ```ts
 * const { program: p3, inputs: in3 } = reframe(program, inputs, [1, m, n]); // program at [m, n]
 * ```
 */
export function reframe<V extends StridedView | null>(program: ElementwiseProgram, inputs: readonly V[], shape: readonly number[]): { program: ElementwiseProgram; inputs: V[] } {
  if (sameShape(program.shape, shape)) return { program, inputs: inputs.slice() };
  return { program: { ...program, shape: shape.slice() }, inputs: inputs.map((v) => (v === null ? v : rowView(v, shape) as V)) };
}

/** `v` (of a shape equal to `rowShape` but for size-1 dims) as a view of `rowShape`. */
function rowView(v: StridedView, rowShape: readonly number[]): StridedView {
  if (sameShape(v.shape, rowShape)) return v;
  const strides = v.strides.filter((_, d) => v.shape[d] !== 1);
  let j = 0;
  return { ...v, shape: rowShape, strides: rowShape.map((d) => (d === 1 ? 0 : strides[j++])) };
}

function squeezedEqual(a: readonly number[], b: readonly number[]): boolean {
  return sameShape(a.filter((d) => d !== 1), b.filter((d) => d !== 1));
}

/**
 * Whether two shapes are equal.
 *
 * @example
 * ```ts
 * sameShape([2, 3], [2, 3]); // true
 * ```
 */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let d = 0; d < a.length; d++) if (a[d] !== b[d]) return false;
  return true;
}
