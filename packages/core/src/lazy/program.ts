// SPDX-License-Identifier: MIT
// The fused elementwise program: what the lazy layer hands a backend's optional `elementwise`
// kernel in place of a chain of unary/binary/where/cast primitives. A program iterates over one
// shape; `exprs` are in dependency order (each refers only to earlier ones), so a backend can
// emit them as straight-line code per element; `outputs` name the exprs written out, each as a
// new contiguous buffer of the program's shape in the expr's dtype. Invariants:
// - every expr result is rounded to its dtype exactly as the eager primitive's output buffer
//   would store it, so a fused kernel gives the same values as the op-by-op primitives;
// - input i is `inputs[i]` of the call: a StridedView of the program's shape (broadcasting by 0
//   strides, like binary's operands).
import type { Backend, BinaryOp, DataId, StridedView, UnaryOp } from '../backend.js';
import { runKernel } from '../kernel-dispatch.js';
import type { DType } from '../dtype.js';
import { HeedError } from '../errors.js';
import { contiguousStrides } from '../shape.js';

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
      case 'const': parts.push(`c:${e.dtype}`); break; // values are run-time arguments, not structure
      case 'unary': parts.push(`${e.fn}(${e.x}):${e.dtype}`); break;
      case 'binary': parts.push(`${e.fn}(${e.a},${e.b}):${e.dtype}`); break;
      case 'where': parts.push(`where(${e.cond},${e.a},${e.b}):${e.dtype}`); break;
      case 'cast': parts.push(`cast(${e.x}):${e.dtype}`); break;
    }
  }
  return `${parts.join(';')}->${program.outputs.join(',')}`;
}

/**
 * Runs `program` one primitive per expr (the path for backends without a fused `elementwise`
 * kernel, or when it declines): the same values, op by op. Intermediates are freed; returns one
 * new buffer per output.
 *
 * @example
 * ```ts
 * const [out] = runProgramByPrimitives(backend, program, [xView, aView, bView]);
 * ```
 */
export function runProgramByPrimitives(backend: Backend, program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] {
  const { shape, exprs, outputs } = program;
  const contiguous = contiguousStrides(shape);
  const views: StridedView[] = [];
  const owned: DataId[] = [];
  const fresh = (data: DataId, dtype: DType): StridedView => {
    owned.push(data);
    return { data, dtype, shape, strides: contiguous, offset: 0 };
  };
  try {
    for (const e of exprs) {
      switch (e.op) {
        case 'input': {
          const v = inputs[e.input];
          if (v === undefined) throw new HeedError('elementwise', `program reads input ${e.input}, but only ${inputs.length} were given`);
          views.push(v);
          break;
        }
        case 'const': {
          const data = runKernel(backend, 'fill', 1, e.value, e.dtype);
          owned.push(data);
          views.push({ data, dtype: e.dtype, shape, strides: shape.map(() => 0), offset: 0 });
          break;
        }
        case 'unary': views.push(fresh(runKernel(backend, 'unary', e.fn, views[e.x], e.dtype), e.dtype)); break;
        case 'binary': views.push(fresh(runKernel(backend, 'binary', e.fn, views[e.a], views[e.b], e.dtype), e.dtype)); break;
        case 'where': views.push(fresh(runKernel(backend, 'where', views[e.cond], views[e.a], views[e.b]), e.dtype)); break;
        case 'cast': views.push(fresh(runKernel(backend, 'cast', views[e.x], e.dtype), e.dtype)); break;
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
