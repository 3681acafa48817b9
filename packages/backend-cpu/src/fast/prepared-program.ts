// SPDX-License-Identifier: MIT
// Prepared runs of fused programs on the fast heap. Running a program as generated WASM (or on
// the native interpreter) first does work that depends only on the program and its inputs'
// layout: coalescing dims, choosing each input's read layout, finding the cached runner, row
// start offsets, constants, the argument template. A compiled step's replay calls the same
// program objects with the same layouts every step, so fused-elementwise.ts does that work once,
// keeps it here per program object (the last layout seen), and later calls only allocate the
// outputs, bind the inputs' heap addresses and call the runner: a few hundred bytecodes instead
// of thousands, which also leaves V8's optimizing compiler far less to compile in a training
// loop's first replays. A run is kept only from a program object's second call on: the lazy
// layer without compile builds a fresh program for every run, and keeping each of those (its
// layout, start offsets, argument template) until the GC found the program dead had V8's
// young-generation collector copy and then promote them — old-space garbage that only a full
// collection frees (most of what a long lazy run promoted). Invariants: a prepared run is used only for the same program object,
// runtime and heap, and inputs of the same dtypes, shapes, strides and offsets (checked on
// every call, without allocating); the outputs and argument layout are exactly those of the
// unprepared path (it builds its runs with these same functions).
import type { DataId, ElementwiseProgram, StridedView } from '@heed/core';
import { HeapBuffer, heapSourceOf, type HeapSource } from './buffer.js';
import type { WasmProgram } from './codegen-wasm.js';
import type { FastHeap } from './heap.js';
import type { FastRuntime } from './runtime.js';

/**
 * A run of one program over one input layout: `run(inputs)` allocates the outputs and calls
 * the runner; null when the heap cannot hold an output or an input copy (the caller then takes
 * its slower path, as before).
 *
 * @example
 * ```ts
 * const ids = prepared.run(inputs) ?? fallback();
 * ```
 */
export interface PreparedRun {
  readonly run: (inputs: readonly StridedView[]) => DataId[] | null;
}

interface Entry {
  readonly rt: FastRuntime;
  readonly heap: FastHeap;
  /** Per input: dtype. */
  readonly dtypes: readonly string[];
  /** Per input: offset, rank, shape..., strides... */
  readonly layout: Int32Array;
  readonly prepared: PreparedRun;
}

const entries = new WeakMap<ElementwiseProgram, Entry>();
/** Programs called once so far (no run kept yet); a WeakSet keeps nothing else alive. */
const calledOnce = new WeakSet<ElementwiseProgram>();

function layoutOf(inputs: readonly StridedView[]): Int32Array {
  let words = 0;
  for (const v of inputs) words += 2 + 2 * v.shape.length;
  const layout = new Int32Array(words);
  let w = 0;
  for (const v of inputs) {
    layout[w++] = v.offset;
    layout[w++] = v.shape.length;
    for (const d of v.shape) layout[w++] = d;
    for (const s of v.strides) layout[w++] = s;
  }
  return layout;
}

function sameLayout(e: Entry, inputs: readonly StridedView[]): boolean {
  if (e.dtypes.length !== inputs.length) return false;
  const layout = e.layout;
  let w = 0;
  for (let j = 0; j < inputs.length; j++) {
    const v = inputs[j];
    const rank = v.shape.length;
    if (v.dtype !== e.dtypes[j] || layout[w] !== v.offset || layout[w + 1] !== rank || w + 2 + 2 * rank > layout.length) return false;
    w += 2;
    for (let d = 0; d < rank; d++) if (layout[w + d] !== v.shape[d] || layout[w + rank + d] !== v.strides[d]) return false;
    w += 2 * rank;
  }
  return w === layout.length;
}

/**
 * The prepared run of `program` for these inputs' layout on `rt`, or undefined when none was
 * kept (or the layout, runtime or heap differs from the kept one's).
 *
 * @example
 * ```ts
 * const done = preparedRun(program, rt, inputs)?.run(inputs);
 * ```
 */
export function preparedRun(program: ElementwiseProgram, rt: FastRuntime, inputs: readonly StridedView[]): PreparedRun | undefined {
  const e = entries.get(program);
  return e !== undefined && e.rt === rt && e.heap === rt.heap && sameLayout(e, inputs) ? e.prepared : undefined;
}

/**
 * Keeps `prepared` as the run of `program` for these inputs' layout on `rt` (replacing the one
 * kept for another layout) when `program` was called before — a program object seen for the
 * first time is only marked, so one-shot programs keep nothing —, and returns it.
 *
 * @example
 * ```ts
 * const p = keepPrepared(program, rt, inputs, flatRun(...));
 * ```
 */
export function keepPrepared(program: ElementwiseProgram, rt: FastRuntime, inputs: readonly StridedView[], prepared: PreparedRun): PreparedRun {
  if (!calledOnce.has(program)) {
    calledOnce.add(program);
    return prepared;
  }
  entries.set(program, { rt, heap: rt.heap, dtypes: inputs.map((v) => v.dtype), layout: layoutOf(inputs), prepared });
  return prepared;
}

/**
 * A prepared run that allocates one heap buffer per size, binds every input (copying it into
 * the heap when it lives elsewhere) and calls `call`; the outputs are released when it throws,
 * the input copies always; null (everything released) when the heap is full.
 */
function preparedCall(heap: FastHeap, sizes: readonly number[], call: (outs: readonly HeapBuffer[], sources: readonly HeapSource[]) => void): PreparedRun {
  return {
    run: (inputs) => {
      const outs: HeapBuffer[] = [];
      const sources: HeapSource[] = [];
      let ok = false;
      try {
        for (const size of sizes) {
          const b = HeapBuffer.alloc(heap, size);
          if (b === null) return null;
          outs.push(b);
        }
        for (const v of inputs) {
          const src = heapSourceOf(heap, v.data, 'elementwise');
          if (src === null) return null;
          sources.push(src);
        }
        call(outs, sources);
        ok = true;
        return outs;
      } finally {
        if (!ok) for (const b of outs) b.release();
        for (const src of sources) src.release();
      }
    },
  };
}

/**
 * A prepared elementwise run (codegen-wasm.ts's argument order): `calls` runner calls, each
 * over `mid` rows of `n` elements; `template` holds n, mid, each input's row stride (bytes) and
 * the constants; call c writes output j at its base + c*mid*n floats and reads input j at its
 * heap address + bases[j][c] floats.
 *
 * @example
 * ```ts
 * const p = flatRun(heap, run, size, nOut, template, bases, calls, mid * n);
 * ```
 */
export function flatRun(heap: FastHeap, runner: WasmProgram, size: number, nOut: number, template: readonly number[], bases: readonly Int32Array[], calls: number, perCall: number): PreparedRun {
  const nIn = bases.length;
  return preparedCall(heap, new Array<number>(nOut).fill(size), (outs, sources) => {
    const args = template.slice();
    for (let c = 0; c < calls; c++) {
      for (let j = 0; j < nOut; j++) args[2 + j] = outs[j].ptr + c * perCall * 4;
      for (let j = 0; j < nIn; j++) args[2 + nOut + 2 * j] = sources[j].ptr + bases[j][c] * 4;
      runner(...args);
    }
  });
}

/**
 * A prepared row-program run (codegen-wasm-rows.ts's argument order: rows, n, outputs, per
 * input its address + offset and row stride (bytes), constants, runs, per input its run stride
 * (bytes)); `sizes` are the outputs' element counts; `template` holds every argument but the
 * addresses, which are filled in per call.
 *
 * @example
 * ```ts
 * const p = rowsRun(heap, run, sizes, template, offsets);
 * ```
 */
export function rowsRun(heap: FastHeap, runner: WasmProgram, sizes: readonly number[], template: readonly number[], offsets: readonly number[]): PreparedRun {
  const nOut = sizes.length;
  return preparedCall(heap, sizes, (outs, sources) => {
    const args = template.slice();
    for (let j = 0; j < nOut; j++) args[2 + j] = outs[j].ptr;
    for (let j = 0; j < sources.length; j++) args[2 + nOut + 2 * j] = sources[j].ptr + offsets[j] * 4;
    runner(...args);
  });
}
