// SPDX-License-Identifier: MIT
// The fused elementwise program: what the lazy layer hands a backend's optional `elementwise`
// kernel in place of a chain of unary/binary/where/cast primitives, optionally with reductions
// over the trailing `reduceAxes` dims of its shape. A program iterates over one shape; `exprs`
// are in dependency order (each refers only to earlier ones), so a backend can emit them as
// straight-line code per element; `outputs` name the exprs written out, each as a new
// contiguous buffer in the expr's dtype. Invariants:
// - every expr result is rounded to its dtype exactly as the eager primitive's output buffer
//   would store it, so a fused kernel gives the same values as the op-by-op primitives;
// - with reduceAxes = k > 0 the shape splits into rows (the leading dims, `rowShape`) of
//   `inner` elements (the k trailing dims). An expr is *row-level* (one value per row) when it
//   is a `rowInput`, a `const`, a `reduce`, or computed from row-level exprs only; otherwise it
//   is element-level. A `reduce` folds an expr over the inner elements of its row in row-major
//   order, accumulating in doubles and rounding once (the reference kernels' order). An output
//   has the program's shape when element-level, `rowShape` when row-level (`programLevels`);
// - input i is `inputs[i]` of the call: for an `input` expr a StridedView of the program's
//   shape (broadcasting by 0 strides, like binary's operands), for a `rowInput` one of rowShape.
import type { Backend, BinaryOp, DataId, ReduceOp, StridedView, UnaryOp } from '../backend.js';
import { runKernel } from '../kernel-dispatch.js';
import type { DType } from '../dtype.js';
import { HeedError } from '../errors.js';
import { contiguousStrides, sizeOf } from '../shape.js';

/**
 * The reductions a program may end in (a subset of ReduceOp: the ones folding values, not indices).
 *
 * @example
 * ```ts
 * PROGRAM_REDUCE_OPS.includes('max'); // true
 * ```
 */
export const PROGRAM_REDUCE_OPS = ['sum', 'prod', 'max', 'min'] as const satisfies readonly ReduceOp[];

/**
 * One of {@link PROGRAM_REDUCE_OPS}.
 *
 * @example
 * ```ts
 * const fn: ProgramReduceOp = 'sum';
 * ```
 */
export type ProgramReduceOp = (typeof PROGRAM_REDUCE_OPS)[number];

/**
 * One step of an {@link ElementwiseProgram}: reads an input, a constant, or applies one
 * elementwise primitive to earlier steps (named by their index in `exprs`).
 *
 * @example
 * ```ts
 * const e: ElementwiseExpr = { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: 'float32' };
 * ```
 */
export type ElementwiseExpr =
  | { readonly op: 'input'; readonly input: number; readonly dtype: DType }
  | { readonly op: 'rowInput'; readonly input: number; readonly dtype: DType }
  | { readonly op: 'reduce'; readonly fn: ProgramReduceOp; readonly x: number; readonly dtype: DType }
  | { readonly op: 'const'; readonly value: number; readonly dtype: DType }
  | { readonly op: 'unary'; readonly fn: UnaryOp; readonly x: number; readonly dtype: DType }
  | { readonly op: 'binary'; readonly fn: BinaryOp; readonly a: number; readonly b: number; readonly dtype: DType }
  | { readonly op: 'where'; readonly cond: number; readonly a: number; readonly b: number; readonly dtype: DType }
  | { readonly op: 'cast'; readonly x: number; readonly dtype: DType };

/**
 * A fused elementwise kernel: straight-line exprs evaluated at every element of `shape`.
 *
 * @example
 * ```ts
 * // relu(x * a + b) as one kernel
 * const p: ElementwiseProgram = {
 *   shape: [4],
 *   exprs: [
 *     { op: 'input', input: 0, dtype: 'float32' }, { op: 'input', input: 1, dtype: 'float32' },
 *     { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: 'float32' }, { op: 'input', input: 2, dtype: 'float32' },
 *     { op: 'binary', fn: 'add', a: 2, b: 3, dtype: 'float32' }, { op: 'unary', fn: 'relu', x: 4, dtype: 'float32' },
 *   ],
 *   outputs: [5],
 * };
 * ```
 */
export interface ElementwiseProgram {
  /** The iteration shape: every input view and every output has it. */
  readonly shape: readonly number[];
  /** The steps, in dependency order. */
  readonly exprs: readonly ElementwiseExpr[];
  /** Indices into `exprs` of the values written out (one new buffer each, in this order). */
  readonly outputs: readonly number[];
  /** How many trailing dims of `shape` the `reduce` exprs fold (0 or absent: a plain elementwise program). */
  readonly reduceAxes?: number;
}

/**
 * Where each expr of a program lives: `row[k]` (one value per row, else one per element) and
 * `pass[k]`, the sweep over a row's inner elements that computes it: inputs and constants are
 * pass 0, an op is the latest pass of its operands, a reduce is one after its operand's (its
 * value exists once that sweep ended). `passes` is the number of element sweeps per row a
 * backend runs (each sweep computes the element-level exprs of its pass that feed a reduce of
 * that pass or an output). One source for every backend's codegen.
 *
 * @example
 * ```ts
 * const { row, pass, passes, rowShape, inner } = programLevels(program);
 * ```
 */
export function programLevels(program: ElementwiseProgram): { row: boolean[]; pass: number[]; passes: number; rowShape: number[]; inner: number } {
  const { exprs, shape } = program;
  const k = program.reduceAxes ?? 0;
  const row: boolean[] = [];
  const pass: number[] = [];
  let passes = 1;
  for (const e of exprs) {
    switch (e.op) {
      case 'input': row.push(false); pass.push(0); break;
      case 'rowInput': case 'const': row.push(true); pass.push(0); break;
      case 'reduce': row.push(true); pass.push(pass[e.x] + 1); passes = Math.max(passes, pass[e.x] + 1); break;
      case 'unary': case 'cast': row.push(row[e.x]); pass.push(pass[e.x]); break;
      case 'binary': row.push(row[e.a] && row[e.b]); pass.push(Math.max(pass[e.a], pass[e.b])); break;
      case 'where': row.push(row[e.cond] && row[e.a] && row[e.b]); pass.push(Math.max(pass[e.cond], pass[e.a], pass[e.b])); break;
    }
  }
  for (const o of program.outputs) if (!row[o]) passes = Math.max(passes, pass[o] + 1);
  const rowShape = shape.slice(0, shape.length - k);
  return { row, pass, passes, rowShape, inner: sizeOf(shape.slice(shape.length - k)) };
}

/**
 * One element sweep of a row program (see {@link programSweeps}).
 *
 * @example
 * ```ts
 * const { folds, writes, need } = programSweeps(program)[0]!;
 * ```
 */
export interface ProgramSweep {
  /** The `reduce` exprs this sweep folds. */
  readonly folds: readonly number[];
  /** Indices into `outputs` of the element-level outputs this sweep writes. */
  readonly writes: readonly number[];
  /** The element-level exprs the sweep computes, in expr (dependency) order; one an earlier sweep had is recomputed. */
  readonly need: readonly number[];
}

/**
 * The element sweeps over each row that {@link programLevels}'s `passes` counts: for sweep p,
 * what it folds, writes and computes, or null when it does neither fold nor write. One source
 * for every backend's row codegen.
 *
 * @example
 * ```ts
 * programSweeps(program).forEach((sweep, p) => { if (sweep) emitSweep(p, sweep); });
 * ```
 */
export function programSweeps(program: ElementwiseProgram, levels = programLevels(program)): (ProgramSweep | null)[] {
  const { exprs, outputs } = program;
  const { row, pass, passes } = levels;
  const sweeps: (ProgramSweep | null)[] = [];
  for (let p = 0; p < passes; p++) {
    const folds = exprs.flatMap((e, k) => (e.op === 'reduce' && pass[e.x] === p ? [k] : []));
    const writes = outputs.flatMap((o, j) => (!row[o] && pass[o] === p ? [j] : []));
    if (folds.length === 0 && writes.length === 0) {
      sweeps.push(null);
      continue;
    }
    const need = new Set<number>();
    const want = (x: number): void => {
      if (row[x] || need.has(x)) return;
      need.add(x);
      const e = exprs[x];
      if (e.op === 'unary' || e.op === 'cast') want(e.x);
      else if (e.op === 'binary') { want(e.a); want(e.b); } else if (e.op === 'where') { want(e.cond); want(e.a); want(e.b); }
    };
    for (const f of folds) want((exprs[f] as { x: number }).x);
    for (const w of writes) want(outputs[w]);
    sweeps.push({ folds, writes, need: [...need].sort((a, b) => a - b) });
  }
  return sweeps;
}

/**
 * A string that identifies a program's structure (not its shape, data or constant values):
 * backends key their compiled-kernel caches by it and pass constants at run time, so a training
 * step's kernels are generated once even when scalars (learning rates, bias corrections) change.
 *
 * @example
 * ```ts
 * cache.get(programKey(program)) ?? compile(program);
 * ```
 */
export function programKey(program: ElementwiseProgram): string {
  const parts: string[] = [];
  for (const e of program.exprs) {
    switch (e.op) {
      case 'input': parts.push(`i${e.input}:${e.dtype}`); break;
      case 'rowInput': parts.push(`r${e.input}:${e.dtype}`); break;
      case 'reduce': parts.push(`${e.fn}/(${e.x}):${e.dtype}`); break;
      case 'const': parts.push(`c:${e.dtype}`); break; // values are run-time arguments, not structure
      case 'unary': parts.push(`${e.fn}(${e.x}):${e.dtype}`); break;
      case 'binary': parts.push(`${e.fn}(${e.a},${e.b}):${e.dtype}`); break;
      case 'where': parts.push(`where(${e.cond},${e.a},${e.b}):${e.dtype}`); break;
      case 'cast': parts.push(`cast(${e.x}):${e.dtype}`); break;
    }
  }
  return `${parts.join(';')}->${program.outputs.join(',')}${program.reduceAxes ? `/${program.reduceAxes}` : ''}`;
}

/** Per expr op: its code in {@link programId}'s hash. */
const OP_CODE: { readonly [K in ElementwiseExpr['op']]: number } = { input: 1, rowInput: 2, reduce: 3, const: 4, unary: 5, binary: 6, where: 7, cast: 8 };
/** Per dtype: its code in {@link programId}'s hash. */
const DTYPE_CODE: { readonly [K in DType]: number } = { float32: 1, int32: 2, bool: 3 };
/** Codes of the unary/binary/reduce function names met so far. */
const fnCodes = new Map<string, number>();
const fnCode = (fn: string): number => {
  let c = fnCodes.get(fn);
  if (c === undefined) fnCodes.set(fn, (c = fnCodes.size + 1));
  return c;
};
/** One 32-bit FNV-1a step over a small integer. */
const mix = (h: number, x: number): number => Math.imul(h ^ x, 0x01000193);

/** The structure hash of a program: what {@link programKey} spells, as a number (collisions are resolved by {@link sameStructure}). */
function structureHash(program: ElementwiseProgram): number {
  let h = 0x811c9dc5;
  for (const e of program.exprs) {
    h = mix(mix(h, OP_CODE[e.op]), DTYPE_CODE[e.dtype]);
    switch (e.op) {
      case 'input': case 'rowInput': h = mix(h, e.input); break;
      case 'reduce': case 'unary': h = mix(mix(h, fnCode(e.fn)), e.x); break;
      case 'binary': h = mix(mix(mix(h, fnCode(e.fn)), e.a), e.b); break;
      case 'where': h = mix(mix(mix(h, e.cond), e.a), e.b); break;
      case 'cast': h = mix(h, e.x); break;
      case 'const': break; // values are run-time arguments, not structure
    }
  }
  h = mix(h, 0xffff);
  for (const o of program.outputs) h = mix(h, o);
  return mix(h, program.reduceAxes ?? 0);
}

/** Whether two programs have the same structure: {@link programKey} equal (everything but shape and constant values). */
function sameStructure(p: ElementwiseProgram, q: ElementwiseProgram): boolean {
  if (p.exprs.length !== q.exprs.length || p.outputs.length !== q.outputs.length || (p.reduceAxes ?? 0) !== (q.reduceAxes ?? 0)) return false;
  for (let j = 0; j < p.outputs.length; j++) if (p.outputs[j] !== q.outputs[j]) return false;
  for (let k = 0; k < p.exprs.length; k++) if (!sameExprStructure(p.exprs[k], q.exprs[k])) return false;
  return true;
}

function sameExprStructure(a: ElementwiseExpr, b: ElementwiseExpr): boolean {
  if (a.op !== b.op || a.dtype !== b.dtype) return false;
  switch (a.op) {
    case 'input': case 'rowInput': return a.input === (b as typeof a).input;
    case 'reduce': case 'unary': { const c = b as typeof a; return a.fn === c.fn && a.x === c.x; }
    case 'binary': { const c = b as typeof a; return a.fn === c.fn && a.a === c.a && a.b === c.b; }
    case 'where': { const c = b as typeof a; return a.cond === c.cond && a.a === c.a && a.b === c.b; }
    case 'cast': return a.x === (b as typeof a).x;
    case 'const': return true; // values are run-time arguments, not structure
  }
}

/** Interned structures: per hash, the first program of each structure and its id. */
const structures = new Map<number, { readonly program: ElementwiseProgram; readonly id: number }[]>();
let structureCount = 0;

/**
 * A small integer naming a program's structure, equal for two programs exactly when their
 * {@link programKey}s are: the same cache key without building a string (a hash of the exprs,
 * then a field-by-field check against the structure first seen under that hash). The lazy
 * layer builds a fresh program object for each run, so backends call this once per run (it
 * is O(exprs) and allocates nothing once the structure is known).
 *
 * @example
 * ```ts
 * const kernel = kernels.get(programId(program)) ?? compile(program);
 * ```
 */
export function programId(program: ElementwiseProgram): number {
  const h = structureHash(program);
  let bucket = structures.get(h);
  let id = -1;
  if (bucket === undefined) structures.set(h, (bucket = []));
  else for (const s of bucket) if (sameStructure(s.program, program)) { id = s.id; break; }
  if (id < 0) bucket.push({ program, id: (id = structureCount++) });
  return id;
}

/**
 * Runs `program` one primitive per expr (the path for backends without a fused `elementwise`
 * kernel, or when it declines): the same values, op by op, a `reduce` expr as the `reduce`
 * primitive over the trailing `reduceAxes` dims. Intermediates are freed; returns one new
 * buffer per output.
 *
 * @example
 * ```ts
 * const [out] = runProgramByPrimitives(backend, program, [xView, aView, bView]);
 * ```
 */
export function runProgramByPrimitives(backend: Backend, program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] {
  const { shape, exprs, outputs } = program;
  const { row, rowShape } = programLevels(program);
  const k = shape.length - rowShape.length;
  const axes = Array.from({ length: k }, (_, i) => rowShape.length + i);
  const views: StridedView[] = []; // element-level: of `shape`; row-level: of `rowShape`
  const owned: DataId[] = [];
  const fresh = (data: DataId, dtype: DType, at: readonly number[]): StridedView => {
    owned.push(data);
    return { data, dtype, shape: at, strides: contiguousStrides(at), offset: 0 };
  };
  /** Operand `x` as read by an element-level step: row values broadcast over the inner dims. */
  const full = (x: number): StridedView => {
    const v = views[x];
    return row[x] && k > 0 ? { ...v, shape, strides: [...v.strides, ...axes.map(() => 0)] } : v;
  };
  const at = (j: number): readonly number[] => (row[j] ? rowShape : shape);
  const arg = (j: number, x: number): StridedView => (row[j] ? views[x] : full(x));
  try {
    for (let j = 0; j < exprs.length; j++) {
      const e = exprs[j];
      switch (e.op) {
        case 'input': case 'rowInput': {
          const v = inputs[e.input];
          if (v === undefined) throw new HeedError('elementwise', `program reads input ${e.input}, but only ${inputs.length} were given`);
          views.push(v);
          break;
        }
        case 'const': {
          const data = runKernel(backend, 'fill', 1, e.value, e.dtype);
          owned.push(data);
          views.push({ data, dtype: e.dtype, shape: rowShape, strides: rowShape.map(() => 0), offset: 0 });
          break;
        }
        case 'reduce': views.push(fresh(runKernel(backend, 'reduce', e.fn, full(e.x), axes, e.dtype), e.dtype, rowShape)); break;
        case 'unary': views.push(fresh(runKernel(backend, 'unary', e.fn, arg(j, e.x), e.dtype), e.dtype, at(j))); break;
        case 'binary': views.push(fresh(runKernel(backend, 'binary', e.fn, arg(j, e.a), arg(j, e.b), e.dtype), e.dtype, at(j))); break;
        case 'where': views.push(fresh(runKernel(backend, 'where', arg(j, e.cond), arg(j, e.a), arg(j, e.b)), e.dtype, at(j))); break;
        case 'cast': views.push(fresh(runKernel(backend, 'cast', arg(j, e.x), e.dtype), e.dtype, at(j))); break;
      }
    }
    // Outputs must be new contiguous buffers the caller owns: copy inputs/constants/shared ones.
    const result: DataId[] = [];
    const given = new Set<DataId>();
    for (const o of outputs) {
      const v = views[o];
      const isFresh = owned.includes(v.data) && exprs[o].op !== 'const' && !given.has(v.data);
      const data = isFresh ? v.data : runKernel(backend, 'copy', v);
      given.add(data);
      result.push(data);
    }
    for (const d of owned) if (!given.has(d)) runKernel(backend, 'free', d);
    owned.length = 0;
    return result;
  } finally {
    for (const d of owned) runKernel(backend, 'free', d);
  }
}

/**
 * The kernels {@link runMatmulThenProgram} calls: a backend's matmul, fused elementwise (null
 * to decline), copy and free.
 *
 * @example
 * ```ts
 * const k: EpilogueKernels = { matmul: (a, b) => be.matmul(a, b), elementwise: (p, i) => be.elementwise(p, i), copy: (v) => be.copy(v), free: (d) => be.free(d) };
 * ```
 */
export interface EpilogueKernels {
  matmul(a: StridedView, b: StridedView): DataId;
  elementwise(program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] | null;
  copy(x: StridedView): DataId;
  free(data: DataId): void;
}

/**
 * Per program and product slot: the program without the outputs that are the product itself
 * (kept, so a backend sees the same object on every call and can keep its prepared run). Only
 * programs that have such an output are kept — never an entry whose value is its own key: V8's
 * young-generation GC keeps a WeakMap key alive that its value refers to, so every program run
 * would have been promoted to the old generation (freed only by a full collection).
 */
const restPrograms = new WeakMap<ElementwiseProgram, { readonly slot: number; readonly rest: ElementwiseProgram }>();

function withoutProduct(program: ElementwiseProgram, slot: number, isProduct: (o: number) => boolean): ElementwiseProgram {
  if (!program.outputs.some(isProduct)) return program;
  const kept = restPrograms.get(program);
  if (kept !== undefined && kept.slot === slot) return kept.rest;
  const rest = { ...program, outputs: program.outputs.filter((o) => !isProduct(o)) };
  restPrograms.set(program, { slot, rest });
  return rest;
}

/**
 * `matmulElementwise`'s meaning spelled out (the fallback every backend can run): the product
 * into a new buffer, then the program reading it in its `null` input slot; an output that is
 * the product itself is that buffer (copied for a second such output), and the product is freed
 * when no output is. Returns null (nothing kept) when `elementwise` declines.
 *
 * @example
 * ```ts
 * const ids = runMatmulThenProgram(kernels, a, b, program, [null, biasRows]);
 * ```
 */
export function runMatmulThenProgram(k: EpilogueKernels, a: StridedView, b: StridedView, program: ElementwiseProgram, inputs: readonly (StridedView | null)[]): DataId[] | null {
  const slot = inputs.indexOf(null);
  if (slot < 0 || inputs.lastIndexOf(null) !== slot) throw new HeedError('matmulElementwise', `exactly one input slot must be the product (null), got ${inputs.filter((v) => v === null).length}`);
  const product = k.matmul(a, b);
  const shape = program.shape;
  const full = inputs.map((v) => v ?? { data: product, dtype: 'float32' as const, shape, strides: contiguousStrides(shape), offset: 0 });
  const isProduct = (o: number): boolean => { const e = program.exprs[o]; return e.op === 'input' && e.input === slot; };
  const rest = withoutProduct(program, slot, isProduct);
  let restIds: DataId[] | null = [];
  try {
    if (rest.outputs.length > 0) restIds = k.elementwise(rest, full);
  } finally {
    if (restIds === null || !program.outputs.some(isProduct)) k.free(product);
  }
  if (restIds === null) return null;
  let productUsed = false;
  let j = 0;
  return program.outputs.map((o) => {
    if (!isProduct(o)) return (restIds as DataId[])[j++];
    if (productUsed) return k.copy(full[slot]);
    productUsed = true;
    return product;
  });
}
