// SPDX-License-Identifier: MIT
// Run-time WebAssembly SIMD for fused programs with reductions (core's ElementwiseProgram with
// reduceAxes > 0): per row, the row-level values of each pass as f32 scalars (splat for the
// vector code), then one f32x4 sweep (plus a scalar tail) over the row's n contiguous inner
// elements per pass, folding the reductions of that pass into a vector and a scalar
// accumulator and writing that pass's element outputs; row outputs last. Invariants:
// - the ops are codegen-wasm.ts's (emitOp: one source), float32 throughout; folds are f32
//   lane-wise, so results are close to (not bitwise equal to) the double-accumulating
//   reference kernels, like the fast path's own reduce kernels; max/min propagate NaN;
// - element inputs are 'contiguous' (inner stride 1) or 'scalar' (inner stride 0) over the
//   last coalesced inner dim (n); a row is `runs` such runs, each input with one byte stride
//   between runs and one between rows;
// - modules are cached by program structure and layouts, instances by memory (codegen-wasm.ts's
//   cachedWasmProgram, one source with the elementwise generator); on a heap with a worker
//   pool, large calls are split into row blocks run by the caller and the workers
//   (program-jobs.ts; a row's folds stay on one thread, so the results do not change).
import type { ElementwiseProgram } from '@heed/core';
import { programLevels, programSweeps } from '@heed/core';
import {
  BINARY_OPS, cachedWasmProgram, emitOp, memarg, name, OP, programModuleKey, section, simd, SIMD, sleb, uleb, UNARY_OPS, vec, VMATH, WasmProgramCache,
  type InputLayout, type ProgramGenerator, type VectorMath, type WasmProgram,
} from './codegen-wasm.js';
import { threadedRowProgram } from './program-jobs.js';

/**
 * Whether the row generator can run `program` (float32 throughout, supported ops only).
 *
 * @example
 * ```ts
 * if (wasmRowsSupports(program)) run = wasmRowProgram(program, key, layouts, memory, shared, pages, vmath);
 * ```
 */
export function wasmRowsSupports(program: ElementwiseProgram): boolean {
  return program.exprs.every((e) => e.dtype === 'float32' && (
    e.op === 'input' || e.op === 'rowInput' || e.op === 'const' || e.op === 'cast' || e.op === 'reduce'
    || (e.op === 'unary' && UNARY_OPS.has(e.fn)) || (e.op === 'binary' && BINARY_OPS.has(e.fn))));
}

type Fold = 'sum' | 'prod' | 'max' | 'min';
const F32_FOLD: Record<Fold, number> = { sum: OP.f32Add, prod: OP.f32Mul, max: OP.f32Max, min: OP.f32Min };
const SIMD_FOLD: Record<Fold, number> = { sum: SIMD.add, prod: SIMD.mul, max: SIMD.max, min: SIMD.min };
const I32_MUL = 0x6c;
const f32Bytes = (v: number): number[] => Array.from(new Uint8Array(new Float32Array([v]).buffer));
const FOLD_INIT: Record<Fold, number> = { sum: 0, prod: 1, max: -Infinity, min: Infinity };

/**
 * The function body. Params: 0 = rows, 1 = n, one byte pointer per output, per input its byte
 * pointer and byte stride between rows, one f32 per constant, then runs and per input its byte
 * stride between runs. Locals:
 * i, end, r, q (run), per expr a v128, an f32 and an f32 tail accumulator; per input a v128
 * splat and its run pointer; per output its run pointer.
 */
function body(program: ElementwiseProgram, layouts: readonly InputLayout[]): number[] {
  const { exprs, outputs } = program;
  const levels = programLevels(program);
  const { row, pass, passes } = levels;
  const sweeps = programSweeps(program, levels);
  const nOut = outputs.length;
  const nIn = layouts.length;
  const E = exprs.length;
  const constParam = new Map<number, number>();
  exprs.forEach((e, k) => { if (e.op === 'const') constParam.set(k, 2 + nOut + 2 * nIn + constParam.size); });
  // the run count and strides come last, so program-jobs.ts's row split sees the plain layout
  const runsP = 2 + nOut + 2 * nIn + constParam.size;
  const P = runsP + 1 + nIn;
  const iL = P, endL = P + 1, rL = P + 2, qL = P + 3;
  const vL = (k: number) => P + 4 + k;
  const sL = (k: number) => P + 4 + E + k;
  const tL = (k: number) => P + 4 + 2 * E + k;
  const splatL = (j: number) => P + 4 + 3 * E + j;
  const runIn = (j: number) => P + 4 + 3 * E + nIn + j;
  const runOut = (j: number) => P + 4 + 3 * E + 2 * nIn + j;
  const outPtr = (j: number) => 2 + j;
  const inPtr = (j: number) => 2 + nOut + 2 * j;
  const inStride = (j: number) => 3 + nOut + 2 * j;
  const runStride = (j: number) => runsP + 1 + j;
  const get = (l: number): number[] => [OP.localGet, ...uleb(l)];
  const set = (l: number): number[] => [OP.localSet, ...uleb(l)];
  const code: number[] = [];
  const locals = [[4, 0x7f], [E, 0x7b], [2 * E, 0x7d], [nIn, 0x7b], [nIn + nOut, 0x7f]].filter(([n]) => n > 0);
  code.push(...get(1), OP.i32Const, ...sleb(-4), OP.i32And, OP.i32Const, 2, OP.i32Shl, ...set(endL));
  code.push(OP.block, 0x40, OP.loop, 0x40, ...get(rL), ...get(0), OP.i32GeU, OP.brIf, 1);
  for (let p = 0; p <= passes; p++) {
    // this pass's row-level values: scalars, and their splats for the vector sweeps
    exprs.forEach((e, k) => {
      if (!row[k] || pass[k] !== p) return;
      switch (e.op) {
        case 'rowInput': code.push(...get(inPtr(e.input)), OP.f32Load, ...memarg(2)); break;
        case 'const': code.push(...get(constParam.get(k) as number)); break;
        case 'reduce': {
          const op = F32_FOLD[e.fn];
          code.push(...get(vL(k)), ...simd(SIMD.extractLane), 0, ...get(vL(k)), ...simd(SIMD.extractLane), 1, op);
          code.push(...get(vL(k)), ...simd(SIMD.extractLane), 2, op, ...get(vL(k)), ...simd(SIMD.extractLane), 3, op, ...get(tL(k)), op);
          break;
        }
        default: emitOp(code, e, (x) => get(sL(x)), 'scalar');
      }
      code.push(...set(sL(k)), ...get(sL(k)), ...simd(SIMD.splat), ...set(vL(k)));
    });
    if (p === passes) break;
    const plan = sweeps[p];
    if (plan === null) continue;
    const { folds, writes, need: sorted } = plan;
    const foldOf = (f: number) => exprs[f] as { fn: Fold; x: number };
    for (const f of folds) {
      const init = f32Bytes(FOLD_INIT[foldOf(f).fn]);
      code.push(OP.f32Const, ...init, ...set(tL(f)), OP.f32Const, ...init, ...simd(SIMD.splat), ...set(vL(f)));
    }
    const sweep = (mode: 'vector' | 'scalar'): void => {
      const limit = mode === 'vector' ? get(endL) : [...get(1), OP.i32Const, 2, OP.i32Shl];
      code.push(OP.block, 0x40, OP.loop, 0x40, ...get(iL), ...limit, OP.i32GeU, OP.brIf, 1);
      for (const x of sorted) {
        const e = exprs[x];
        if (e.op === 'input') {
          const j = e.input;
          if (layouts[j] === 'scalar') code.push(...(mode === 'vector' ? get(splatL(j)) : [...get(runIn(j)), OP.f32Load, ...memarg(2)]));
          else code.push(...get(runIn(j)), ...get(iL), OP.i32Add, ...(mode === 'vector' ? [...simd(SIMD.load), ...memarg(0)] : [OP.f32Load, ...memarg(2)]));
        } else emitOp(code, e, (y) => get(mode === 'vector' ? vL(y) : sL(y)), mode);
        code.push(...set(mode === 'vector' ? vL(x) : sL(x)));
      }
      for (const f of folds) {
        const { fn, x } = foldOf(f);
        if (mode === 'vector') code.push(...get(vL(f)), ...get(vL(x)), ...simd(SIMD_FOLD[fn]), ...set(vL(f)));
        else code.push(...get(tL(f)), ...get(sL(x)), F32_FOLD[fn], ...set(tL(f)));
      }
      for (const w of writes) {
        code.push(...get(runOut(w)), ...get(iL), OP.i32Add, ...get(mode === 'vector' ? vL(outputs[w]) : sL(outputs[w])));
        code.push(...(mode === 'vector' ? [...simd(SIMD.store), ...memarg(0)] : [OP.f32Store, ...memarg(2)]));
      }
      code.push(...get(iL), OP.i32Const, ...sleb(mode === 'vector' ? 16 : 4), OP.i32Add, ...set(iL), OP.br, 0, OP.end, OP.end);
    };
    // for (q = 0; q < runs; q++): splat this run's broadcast inputs, sweep its n elements, step the run pointers
    code.push(OP.i32Const, 0, ...set(qL));
    for (let j = 0; j < nIn; j++) code.push(...get(inPtr(j)), ...set(runIn(j)));
    for (const w of writes) code.push(...get(outPtr(w)), ...set(runOut(w)));
    code.push(OP.block, 0x40, OP.loop, 0x40, ...get(qL), ...get(runsP), OP.i32GeU, OP.brIf, 1);
    layouts.forEach((l, j) => { if (l === 'scalar') code.push(...get(runIn(j)), ...simd(SIMD.load32Splat), ...memarg(2), ...set(splatL(j))); });
    code.push(OP.i32Const, 0, ...set(iL));
    sweep('vector');
    sweep('scalar');
    for (let j = 0; j < nIn; j++) code.push(...get(runIn(j)), ...get(runStride(j)), OP.i32Add, ...set(runIn(j)));
    for (const w of writes) code.push(...get(runOut(w)), ...get(1), OP.i32Const, 2, OP.i32Shl, OP.i32Add, ...set(runOut(w)));
    code.push(...get(qL), OP.i32Const, 1, OP.i32Add, ...set(qL), OP.br, 0, OP.end, OP.end);
  }
  outputs.forEach((o, j) => { if (row[o]) code.push(...get(outPtr(j)), ...get(sL(o)), OP.f32Store, ...memarg(2)); });
  // advance: element outputs by a row (runs * n floats), row outputs by one float, inputs by their row strides
  outputs.forEach((o, j) => {
    code.push(...get(outPtr(j)), ...(row[o] ? [OP.i32Const, 4] : [...get(1), ...get(runsP), I32_MUL, OP.i32Const, 2, OP.i32Shl]), OP.i32Add, ...set(outPtr(j)));
  });
  for (let j = 0; j < nIn; j++) code.push(...get(inPtr(j)), ...get(inStride(j)), OP.i32Add, ...set(inPtr(j)));
  code.push(...get(rL), OP.i32Const, 1, OP.i32Add, ...set(rL), OP.br, 0, OP.end, OP.end, OP.end);
  const fn = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code];
  return [...uleb(fn.length), ...fn];
}

function moduleBytes(program: ElementwiseProgram, layouts: readonly InputLayout[], sharedMemory: boolean, maxPages: number): Uint8Array<ArrayBuffer> {
  const ints = 2 + program.outputs.length + 2 * layouts.length;
  const consts = program.exprs.filter((e) => e.op === 'const').length;
  const paramTypes = [...new Array<number[]>(ints).fill([0x7f]), ...new Array<number[]>(consts).fill([0x7d]), ...new Array<number[]>(1 + layouts.length).fill([0x7f])];
  const type = section(1, vec([[0x60, ...vec(paramTypes), 0], [0x60, 1, 0x7b, 1, 0x7b]]));
  const limits = sharedMemory ? [0x03, ...uleb(1), ...uleb(maxPages)] : [0x00, ...uleb(1)];
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits], ...VMATH.map((f) => [...name('env'), ...name(f), 0x00, 1])]));
  const funcs = section(3, vec([[0]]));
  const exports = section(7, vec([[...name('run'), 0x00, VMATH.length]]));
  const code = section(10, vec([body(program, layouts)]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}

/** The row generator; its programs' calls split over the pool by rows. */
const ROWS: ProgramGenerator = {
  supports: wasmRowsSupports,
  bytes: moduleBytes,
  threaded: (program, layouts) => (rt, module, run) => threadedRowProgram(rt, module, run, program, layouts),
};
const programs = new WasmProgramCache();
let runs = 0;

/**
 * @internal How many row-program calls took the wasm path so far (tests check the path is used).
 *
 * @example
 * ```ts
 * const before = wasmRowProgramRuns();
 * ```
 */
export function wasmRowProgramRuns(): number {
  return runs;
}

/**
 * The wasm function `run(rows, n, ...outPtrs, ...(inPtr, rowStrideBytes), ...constants, runs, ...runStrideBytes)`
 * running a program with reductions (structure `id`, core's programId) on `memory`; null when
 * the generator does not apply.
 *
 * @example
 * ```ts
 * const run = wasmRowProgram(program, programId(program), ['contiguous'], heap.memory, heap.shared, MAX_PAGES, rt.kernels);
 * run?.(rows, n, outPtr, xPtr, n * 4, 1, 0);
 * ```
 */
export function wasmRowProgram(program: ElementwiseProgram, id: number, layouts: readonly InputLayout[], memory: WebAssembly.Memory, sharedMemory: boolean, maxPages: number, vmath: VectorMath): WasmProgram | null {
  const run = cachedWasmProgram(programs, programModuleKey(id, layouts, sharedMemory), ROWS, program, layouts, memory, sharedMemory, maxPages, vmath);
  if (run !== null) runs++;
  return run;
}
