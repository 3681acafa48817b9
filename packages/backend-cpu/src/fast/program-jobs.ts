// SPDX-License-Identifier: MIT
// Generated WASM programs (codegen-wasm.ts, and codegen-wasm-rows.ts's programs with
// reductions) over the worker pool. A program call `run(n, rows, ...outPtrs, ...(inPtr,
// inRowStride), ...constants)` (rows first for reductions) covers `rows` runs of `n` elements;
// here a large call is cut into blocks — row ranges when there are enough rows (always for
// reductions), else column ranges of each row (aligned to 16 elements, one cache line) — whose
// arguments go to a Float64 table in the heap, and the blocks run as one JOB_PROGRAM job on the
// caller and the workers (each thread through its own instance of the same compiled module).
// Invariants:
// - every output element is computed by the same generated code from the same input elements
//   whichever block and thread computes it (the vector and scalar loops of a program give
//   bitwise the same values, see codegen-wasm.ts), so results are identical for 1 or N threads;
// - elementwise programs (each output element depends on the inputs at the same index) are
//   split by rows or columns, programs with reductions by rows only (a row's folds run on one
//   thread in their usual order), so no result depends on the split;
// - calls whose estimated work (elements x programCost) is under PARALLEL_PROGRAM_UNITS stay on
//   the caller: a job costs ~15 us, so a cheap relu(x * a + b) pays off from ~100K elements, an
//   exp/tanh/sigmoid program from a few thousand (HEED_CPU_PROGRAM_SPLIT=<units> overrides the
//   threshold in Node, for bench/cpu_program_threads.mjs);
// - when the pool fails (a worker died) the whole call runs again on the caller, after the job
//   drained, so no output is left half written.
import { programLevels, type BinaryOp, type ElementwiseExpr, type ElementwiseProgram, type UnaryOp } from '@heed/core';
import { envFlag } from './index.js';
import { blockSize } from './layout.js';
import type { FastRuntime } from './runtime.js';

/**
 * Work (elements x {@link programCost}) from which a generated program call is split over the
 * worker pool. Measured with bench/cpu_program_threads.mjs on 2 cores (at real-time priority,
 * the machine being shared): relu(x * a + b), 3.5 units per element, was 0.74x at 64K elements
 * and 1.17x at 128K on the pool; exp/tanh/sigmoid with three outputs (52 units) 1.5x already at
 * 16K. 3 * 2^17 units: relu from 112K elements, that program from 7.6K.
 *
 * @example
 * ```ts
 * const parallel = n * rows * programCost(program) >= PARALLEL_PROGRAM_UNITS;
 * ```
 */
export const PARALLEL_PROGRAM_UNITS = 3 << 17;

/** Cost units per element of the ops that are not one cheap f32x4 instruction (the rest count 0.5). */
const HEAVY_OPS: Readonly<Partial<Record<UnaryOp | BinaryOp, number>>> = { exp: 16, tanh: 16, sigmoid: 16, sqrt: 4, div: 2 };

/**
 * Estimated work per element of a program, in units of about one streamed float (~0.13 ns on
 * the machine of PARALLEL_PROGRAM_UNITS): 1 per element input read (inputs laid out 'scalar',
 * one value per run, count 0) and per element output written, HEAVY_OPS for
 * exp/tanh/sigmoid/sqrt/div, 0.5 for any other op or fold.
 *
 * @example
 * ```ts
 * programCost(reluXaPlusB, ['contiguous', 'scalar', 'scalar']); // 3.5: x read, mul, add, relu, one output
 * ```
 */
export function programCost(program: ElementwiseProgram, layouts: readonly RunLayout[]): number {
  const { row } = programLevels(program);
  let units = 0;
  program.exprs.forEach((e, k) => {
    if (row[k] && e.op !== 'reduce') return; // once per row, not per element
    switch (e.op) {
      case 'input': units += layouts[e.input] === 'scalar' ? 0 : 1; break;
      case 'unary': units += HEAVY_OPS[e.fn] ?? 0.5; break;
      case 'binary': units += HEAVY_OPS[e.fn] ?? 0.5; break;
      case 'reduce': case 'where': units += 0.5; break;
      case 'const': case 'rowInput': case 'cast': break;
    }
  });
  for (const o of program.outputs) if (!row[o]) units += 1;
  return units;
}

let splitFrom: number | undefined;
/** PARALLEL_PROGRAM_UNITS, or the HEED_CPU_PROGRAM_SPLIT override (read once). */
function splitThreshold(): number {
  if (splitFrom === undefined) {
    const env = Number(envFlag('HEED_CPU_PROGRAM_SPLIT') ?? NaN);
    splitFrom = Number.isFinite(env) && env >= 0 ? env : PARALLEL_PROGRAM_UNITS;
  }
  return splitFrom;
}

/** The compiled `run(...)` of a program (see codegen-wasm.ts's WasmProgram). */
type ProgramCall = (...args: number[]) => void;

/** How a program input advances inside a run: contiguous (by one element) or broadcast (not at all). */
type RunLayout = 'contiguous' | 'scalar';

/** Per expression kind: whether its value at an index depends only on its operands at that index (not a reduction, not a row input). */
const AT_INDEX: { readonly [K in ElementwiseExpr['op']]: boolean } = {
  input: true, const: true, unary: true, binary: true, where: true, cast: true, rowInput: false, reduce: false,
};

/**
 * Whether a program's calls may be cut into independent row/column blocks (every expression is
 * elementwise: no reduction over a row, no per-row input).
 *
 * @example
 * ```ts
 * splittable({ shape: [4], exprs: [{ op: 'input', input: 0, dtype: 'float32' }], outputs: [0] }); // true
 * ```
 */
export function splittable(program: ElementwiseProgram): boolean {
  return program.exprs.every((e) => AT_INDEX[e.op]);
}

let parallelCalls = 0;

/**
 * @internal How many program calls ran as pool jobs so far (tests check the pool is used).
 *
 * @example
 * ```ts
 * const before = parallelProgramCalls();
 * ```
 */
export function parallelProgramCalls(): number {
  return parallelCalls;
}

/**
 * The blocks of a call of `rows` runs of `n` elements for `threads` threads: `[rowsPerBlock, 0]`
 * for row blocks, or `[1, columnsPerBlock]` for column blocks within each row (only when
 * `columns` allows it, i.e. for programs without reductions).
 *
 * @example
 * ```ts
 * blockPlan(1 << 22, 1, 2); // [1, 524288]: eight column blocks of the single row
 * blockPlan(512, 8192, 2); // [1024, 0]: eight row blocks
 * ```
 */
export function blockPlan(n: number, rows: number, threads: number, columns = true): [number, number] {
  if (rows >= 4 * threads || !columns) return [blockSize(rows, threads, 1, 1), 0];
  return [1, Math.min(n, blockSize(n * rows, threads, 16, 4096))];
}

/**
 * How a generated program's call arguments describe its work (one source for both
 * generators): its cost per element ({@link programCost}); which argument is the run length n and which the row count; per output whether
 * it holds one value per row (a reduction) or n; the number of inputs; per input whether it may
 * be split by columns ('contiguous' advances 4 bytes per element, 'scalar' not at all) —
 * `columns` is null when the program reduces over a row, so a row is never cut. After `n`,
 * `rows` and the outputs come one (pointer, byte stride between rows) pair per input, then the
 * constants.
 *
 * @example
 * ```ts
 * const elementwise: CallShape = { cost: 4, nArg: 0, rowsArg: 1, rowOutputs: [false], inputs: 2, columns: ['contiguous', 'scalar'] };
 * const softmaxRows: CallShape = { cost: 21.5, nArg: 1, rowsArg: 0, rowOutputs: [false, true], inputs: 1, columns: null };
 * ```
 */
export interface CallShape {
  readonly cost: number;
  readonly nArg: 0 | 1;
  readonly rowsArg: 0 | 1;
  readonly rowOutputs: readonly boolean[];
  readonly inputs: number;
  readonly columns: readonly RunLayout[] | null;
}

/**
 * Wraps a generated program's compiled call so that large calls run over `rt`'s worker pool
 * (see the file comment); `module` is shared with the workers on the first such call.
 *
 * @example
 * ```ts
 * const run = threadedCall(rt, module, instance.exports.run as ProgramCall, { cost: 2, nArg: 0, rowsArg: 1, rowOutputs: [false], inputs: 1, columns: ['contiguous'] });
 * run(n, rows, outPtr, xPtr, xRowStride);
 * ```
 */
export function threadedCall(rt: FastRuntime, module: WebAssembly.Module, run: ProgramCall, shape: CallShape): ProgramCall {
  const { cost, nArg, rowsArg, rowOutputs, inputs, columns } = shape;
  const nOut = rowOutputs.length;
  let id = -1;
  return (...args: number[]): void => {
    const n = args[nArg], rows = args[rowsArg];
    const threads = n * rows * cost >= splitThreshold() ? rt.threads : 1;
    const [rowsPer, colsPer] = blockPlan(n, rows, threads, columns !== null);
    const perRow = colsPer === 0 ? 0 : Math.ceil(n / colsPer);
    const nblocks = colsPer === 0 ? Math.ceil(rows / rowsPer) : rows * perRow;
    if (threads < 2 || nblocks < 2) {
      run(...args);
      return;
    }
    if (id < 0) id = rt.shareProgram(module);
    const argc = args.length;
    const tableBytes = 8 * nblocks * argc;
    const table = rt.heap.alloc(tableBytes);
    if (table === 0) {
      run(...args);
      return;
    }
    try {
      const f64 = new Float64Array(rt.heap.buffer, table, nblocks * argc);
      for (let b = 0; b < nblocks; b++) {
        // rows [r, r + count) and columns [c, c + width) of the call
        const r = colsPer === 0 ? b * rowsPer : Math.floor(b / perRow);
        const count = colsPer === 0 ? Math.min(rowsPer, rows - r) : 1;
        const c = colsPer === 0 ? 0 : (b % perRow) * colsPer;
        const width = colsPer === 0 ? n : Math.min(colsPer, n - c);
        const at = b * argc;
        f64.set(args, at);
        f64[at + nArg] = width;
        f64[at + rowsArg] = count;
        for (let j = 0; j < nOut; j++) f64[at + 2 + j] = args[2 + j] + 4 * (rowOutputs[j] ? r : r * n + c);
        for (let j = 0; j < inputs; j++) {
          const p = 2 + nOut + 2 * j;
          f64[at + p] = args[p] + r * args[p + 1] + (columns?.[j] === 'contiguous' ? 4 * c : 0);
        }
      }
      const blockArgs = new Array<number>(argc);
      rt.begin();
      rt.setI(0, id);
      rt.setI(1, table);
      rt.setI(2, argc);
      parallelCalls++;
      rt.runBlocks(nblocks, true, (b) => {
        for (let k = 0; k < argc; k++) blockArgs[k] = f64[b * argc + k];
        run(...blockArgs);
      });
    } catch {
      run(...args); // the pool failed (threading is now off): the whole call again, on this thread
    } finally {
      rt.heap.free(table, tableBytes);
    }
  };
}

/**
 * {@link threadedCall} for codegen-wasm.ts's elementwise programs:
 * `run(n, rows, ...outPtrs, ...(inPtr, inRowStride), ...constants)`.
 *
 * @example
 * ```ts
 * const run = threadedProgram(rt, module, instance.exports.run as ProgramCall, program, ['contiguous', 'scalar']);
 * run(n, rows, outPtr, xPtr, xRowStride, aPtr, 0);
 * ```
 */
export function threadedProgram(rt: FastRuntime, module: WebAssembly.Module, run: ProgramCall, program: ElementwiseProgram, layouts: readonly RunLayout[]): ProgramCall {
  const nOut = program.outputs.length;
  return threadedCall(rt, module, run, { cost: programCost(program, layouts), nArg: 0, rowsArg: 1, rowOutputs: new Array<boolean>(nOut).fill(false), inputs: layouts.length, columns: layouts });
}

/**
 * {@link threadedCall} for codegen-wasm-rows.ts's programs with reductions:
 * `run(rows, n, ...outPtrs, ...(inPtr, inRowStride), ...constants)`, row outputs one value per
 * row; split by rows only (each row's folds stay on one thread, so results do not change).
 *
 * @example
 * ```ts
 * const run = threadedRowProgram(rt, module, instance.exports.run as ProgramCall, program, layouts);
 * ```
 */
export function threadedRowProgram(rt: FastRuntime, module: WebAssembly.Module, run: ProgramCall, program: ElementwiseProgram, layouts: readonly RunLayout[]): ProgramCall {
  const { row } = programLevels(program);
  return threadedCall(rt, module, run, {
    cost: programCost(program, layouts), nArg: 1, rowsArg: 0, rowOutputs: program.outputs.map((o) => row[o]), inputs: layouts.length, columns: null,
  });
}
