// SPDX-License-Identifier: MIT
// Run-time WebAssembly SIMD code generation for fused elementwise programs (core's lazy layer):
// a float32 program over contiguous or broadcast-scalar inputs becomes a tiny module that
// imports the fast path's memory and runs the whole chain 4 lanes at a time (f32x4), then a
// scalar tail, reading each input once and writing only the escaping outputs. Invariants:
// - + - * / sqrt min max neg abs square relu are IEEE-exact, so they equal the reference
//   kernels' double formula rounded once (double rounding is innocuous for them); exp, tanh and
//   sigmoid call the fast kernels' own f32x4 functions (imported from their module), so they
//   equal the op-by-op fast kernels. Any other op, dtype or layout makes `wasmProgram` return
//   null (the caller then uses the generated JavaScript loop);
// - modules are cached by program structure (core's programId) and input layout, instances by
//   memory: `cachedWasmProgram`, one source for this and the row generator;
// - on a heap with a worker pool, large calls of elementwise programs are split into blocks
//   run by the caller and the workers (program-jobs.ts), with bitwise the same results.
import type { ElementwiseExpr, ElementwiseProgram } from '@heed/core';
import { splittable, threadedProgram } from './program-jobs.js';
import { FastRuntime } from './runtime.js';

/** How a program input is read: a contiguous run, or one element broadcast to every lane. */
export type InputLayout = 'contiguous' | 'scalar';

/**
 * Whether code works on f32x4 lanes or on one f32.
 *
 * @example
 * ```ts
 * const mode: Vec = 'vector';
 * ```
 */
export type Vec = 'vector' | 'scalar';

/**
 * Unary ops the wasm generators emit (others fall back to generated JavaScript).
 *
 * @example
 * ```ts
 * UNARY_OPS.has('exp'); // true
 * ```
 */
export const UNARY_OPS = new Set(['neg', 'abs', 'sqrt', 'square', 'relu', 'exp', 'tanh', 'sigmoid']);

/**
 * The imported vector functions (function indices 0..2 of every generated module).
 *
 * @example
 * ```ts
 * VMATH[0]; // 'vexp4'
 * ```
 */
export const VMATH = ['vexp4', 'vtanh4', 'vsigmoid4'] as const;

/**
 * Function index of each imported vector-math op in every generated module.
 *
 * @example
 * ```ts
 * code.push(OP.call, VMATH_INDEX.exp);
 * ```
 */
export const VMATH_INDEX: Record<string, number> = { exp: 0, tanh: 1, sigmoid: 2 };

/**
 * Binary ops the wasm generators emit.
 *
 * @example
 * ```ts
 * BINARY_OPS.has('div'); // true
 * ```
 */
export const BINARY_OPS = new Set(['add', 'sub', 'mul', 'div', 'minimum', 'maximum']);

/** Whether the wasm generator can run `program` (float32 throughout, supported ops only). */
export function wasmSupports(program: ElementwiseProgram): boolean {
  return program.exprs.every((e) => e.dtype === 'float32' && (
    e.op === 'input' || e.op === 'const' || (e.op === 'unary' && UNARY_OPS.has(e.fn)) || (e.op === 'binary' && BINARY_OPS.has(e.fn))
    || e.op === 'cast'));
}

// ---- a minimal binary encoder ----
/**
 * Unsigned LEB128 bytes of `n` (wasm's integer encoding).
 *
 * @example
 * ```ts
 * uleb(300); // [0xac, 0x02]
 * ```
 */
export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
/**
 * Signed LEB128 bytes of `n`.
 *
 * @example
 * ```ts
 * sleb(-4); // [0x7c]
 * ```
 */
export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
};
/**
 * A wasm module section: id, byte length, body.
 *
 * @example
 * ```ts
 * section(3, vec([[0]])); // one function of type 0
 * ```
 */
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
/**
 * A wasm vector: count, then the items' bytes.
 *
 * @example
 * ```ts
 * vec([[0x7f], [0x7d]]); // [2, 0x7f, 0x7d]
 * ```
 */
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
/**
 * A wasm name (length-prefixed ASCII).
 *
 * @example
 * ```ts
 * name('run'); // [3, 114, 117, 110]
 * ```
 */
export const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/**
 * The core wasm opcodes the generators emit.
 *
 * @example
 * ```ts
 * code.push(OP.localGet, 0, OP.f32Load, 2, 0);
 * ```
 */
export const OP = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, call: 0x10, select: 0x1b,
  localGet: 0x20, localSet: 0x21, i32Const: 0x41, f32Const: 0x43,
  f32Load: 0x2a, f32Store: 0x38, i32GeU: 0x4f, i32Add: 0x6a, i32And: 0x71, i32Shl: 0x74, f32Lt: 0x5d,
  f32Abs: 0x8b, f32Neg: 0x8c, f32Sqrt: 0x91, f32Add: 0x92, f32Sub: 0x93, f32Mul: 0x94, f32Div: 0x95, f32Min: 0x96, f32Max: 0x97,
} as const;
/**
 * The SIMD (0xfd-prefixed) opcodes the generators emit; use with {@link simd}.
 *
 * @example
 * ```ts
 * code.push(...simd(SIMD.add));
 * ```
 */
export const SIMD = {
  load: 0x00, load32Splat: 0x09, store: 0x0b, const: 0x0c, splat: 0x13, extractLane: 0x1f, bitselect: 0x52, f32x4Lt: 0x43,
  abs: 0xe0, neg: 0xe1, sqrt: 0xe3, add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7, min: 0xe8, max: 0xe9,
} as const;
/**
 * The bytes of SIMD opcode `op`.
 *
 * @example
 * ```ts
 * simd(SIMD.mul); // [0xfd, 0xe6, 0x01]
 * ```
 */
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];
/**
 * A load/store memory argument: alignment exponent, offset 0.
 *
 * @example
 * ```ts
 * code.push(OP.f32Load, ...memarg(2));
 * ```
 */
export const memarg = (align: number): number[] => [align, 0];

const SIMD_BINARY: Record<string, number> = { add: SIMD.add, sub: SIMD.sub, mul: SIMD.mul, div: SIMD.div, minimum: SIMD.min, maximum: SIMD.max };
const F32_BINARY: Record<string, number> = { add: OP.f32Add, sub: OP.f32Sub, mul: OP.f32Mul, div: OP.f32Div, minimum: OP.f32Min, maximum: OP.f32Max };

/**
 * Emits the value of a cast/unary/binary expr onto `code` (operands via `get`), as f32x4
 * ('vector') or f32 ('scalar'); the ops are those {@link wasmSupports} accepts. One source for
 * the elementwise and the row-program generators.
 *
 * @example
 * ```ts
 * emitOp(code, { op: 'binary', fn: 'add', a: 0, b: 1, dtype: 'float32' }, (x) => [OP.localGet, x], 'vector');
 * ```
 */
export function emitOp(code: number[], e: ElementwiseExpr, get: (x: number) => number[], mode: Vec): void {
  switch (e.op) {
    case 'cast': code.push(...get(e.x)); break; // float32 -> float32 only (wasmSupports)
    case 'unary': {
      const x = get(e.x);
      if (e.fn === 'square') code.push(...x, ...x, ...(mode === 'vector' ? simd(SIMD.mul) : [OP.f32Mul]));
      else if (e.fn === 'relu') {
        // x < 0 ? 0 : x (NaN and -0 pass through, like the JS kernel)
        if (mode === 'vector') code.push(...simd(SIMD.const), ...new Array<number>(16).fill(0), ...x, ...x, ...simd(SIMD.const), ...new Array<number>(16).fill(0), ...simd(SIMD.f32x4Lt), ...simd(SIMD.bitselect));
        else code.push(OP.f32Const, 0, 0, 0, 0, ...x, ...x, OP.f32Const, 0, 0, 0, 0, OP.f32Lt, OP.select);
      } else if (e.fn in VMATH_INDEX) {
        // the fast kernels' f32x4 function; the scalar tail runs it on a splat and takes lane 0
        const call = [OP.call, VMATH_INDEX[e.fn]];
        code.push(...x, ...(mode === 'vector' ? call : [...simd(SIMD.splat), ...call, ...simd(SIMD.extractLane), 0]));
      } else {
        const op = e.fn === 'neg' ? [SIMD.neg, OP.f32Neg] : e.fn === 'abs' ? [SIMD.abs, OP.f32Abs] : [SIMD.sqrt, OP.f32Sqrt];
        code.push(...x, ...(mode === 'vector' ? simd(op[0]) : [op[1]]));
      }
      break;
    }
    case 'binary':
      code.push(...get(e.a), ...get(e.b), ...(mode === 'vector' ? simd(SIMD_BINARY[e.fn]) : [F32_BINARY[e.fn]]));
      break;
    default: throw new Error(`unreachable: emitOp(${e.op})`);
  }
}

/**
 * The function body: `rows` runs of `n` elements. Params: 0 = n, 1 = rows, then one byte pointer
 * per output (runs are contiguous), then per input its byte pointer and byte stride between
 * runs, then one f32 per constant. Locals after the params: i (byte offset), end (vector part, bytes), one v128 per expr,
 * one f32 per expr, one v128 per scalar input (its splat).
 */
function body(program: ElementwiseProgram, layouts: readonly InputLayout[]): number[] {
  const { exprs, outputs } = program;
  const nOut = outputs.length;
  const nIn = layouts.length;
  const constParam = new Map<number, number>(); // expr index -> its f32 param
  exprs.forEach((e, k) => { if (e.op === 'const') constParam.set(k, 2 + nOut + 2 * nIn + constParam.size); });
  const params = 2 + nOut + 2 * nIn + constParam.size;
  const iLocal = params, endLocal = params + 1, rLocal = params + 2;
  const vLocal = (k: number) => params + 3 + k;
  const sLocal = (k: number) => params + 3 + exprs.length + k;
  const splatLocal = (j: number) => params + 3 + 2 * exprs.length + j;
  const outPtr = (j: number) => 2 + j;
  const inPtr = (j: number) => 2 + nOut + 2 * j;
  const inStride = (j: number) => 3 + nOut + 2 * j;
  const code: number[] = [];
  const locals = [[3, 0x7f], [exprs.length, 0x7b], [exprs.length, 0x7d], [nIn, 0x7b]].filter(([n]) => n > 0);
  // end = (n & ~3) * 4: the bytes of a row the vector loop covers
  code.push(OP.localGet, 0, OP.i32Const, ...sleb(-4), OP.i32And, OP.i32Const, 2, OP.i32Shl, OP.localSet, ...uleb(endLocal));
  // for (r = 0; r < rows; r++) { ...the row...; advance every pointer by its row stride }
  code.push(OP.block, 0x40, OP.loop, 0x40);
  code.push(OP.localGet, ...uleb(rLocal), OP.localGet, 1, OP.i32GeU, OP.brIf, 1);
  code.push(OP.i32Const, 0, OP.localSet, ...uleb(iLocal));
  // splat this row's broadcast inputs
  layouts.forEach((l, j) => {
    if (l === 'scalar') code.push(OP.localGet, ...uleb(inPtr(j)), ...simd(SIMD.load32Splat), ...memarg(2), OP.localSet, ...uleb(splatLocal(j)));
  });
  const emitExpr = (e: ElementwiseExpr, k: number, mode: Vec): void => {
    const get = (x: number) => [OP.localGet, ...uleb(mode === 'vector' ? vLocal(x) : sLocal(x))];
    switch (e.op) {
      case 'input': {
        const j = e.input;
        if (layouts[j] === 'scalar') {
          if (mode === 'vector') code.push(OP.localGet, ...uleb(splatLocal(j)));
          else code.push(OP.localGet, ...uleb(inPtr(j)), OP.f32Load, ...memarg(2));
        } else {
          code.push(OP.localGet, ...uleb(inPtr(j)), OP.localGet, ...uleb(iLocal), OP.i32Add);
          code.push(...(mode === 'vector' ? [...simd(SIMD.load), ...memarg(0)] : [OP.f32Load, ...memarg(2)]));
        }
        break;
      }
      case 'const': // a run-time f32 argument, splat to 4 lanes in the vector loop
        code.push(OP.localGet, ...uleb(constParam.get(k) as number), ...(mode === 'vector' ? simd(SIMD.splat) : []));
        break;
      case 'cast': case 'unary': case 'binary': emitOp(code, e, get, mode); break;
      case 'rowInput': case 'reduce': throw new Error(`unreachable: ${e.op} in a program without reductions`);
      case 'where': throw new Error('unreachable: where is not supported by wasmSupports');
    }
    code.push(OP.localSet, ...uleb(mode === 'vector' ? vLocal(k) : sLocal(k)));
  };
  const emitLoop = (mode: Vec): void => {
    const step = mode === 'vector' ? 16 : 4;
    const limit = mode === 'vector' ? [OP.localGet, ...uleb(endLocal)] : [OP.localGet, 0, OP.i32Const, 2, OP.i32Shl];
    code.push(OP.block, 0x40, OP.loop, 0x40);
    code.push(OP.localGet, ...uleb(iLocal), ...limit, OP.i32GeU, OP.brIf, 1);
    exprs.forEach((e, k) => emitExpr(e, k, mode));
    outputs.forEach((o, j) => {
      code.push(OP.localGet, ...uleb(outPtr(j)), OP.localGet, ...uleb(iLocal), OP.i32Add, OP.localGet, ...uleb(mode === 'vector' ? vLocal(o) : sLocal(o)));
      code.push(...(mode === 'vector' ? [...simd(SIMD.store), ...memarg(0)] : [OP.f32Store, ...memarg(2)]));
    });
    code.push(OP.localGet, ...uleb(iLocal), OP.i32Const, ...sleb(step), OP.i32Add, OP.localSet, ...uleb(iLocal));
    code.push(OP.br, 0, OP.end, OP.end);
  };
  emitLoop('vector');
  emitLoop('scalar');
  for (let j = 0; j < nOut; j++) {
    code.push(OP.localGet, ...uleb(outPtr(j)), OP.localGet, 0, OP.i32Const, 2, OP.i32Shl, OP.i32Add, OP.localSet, ...uleb(outPtr(j)));
  }
  for (let j = 0; j < nIn; j++) {
    code.push(OP.localGet, ...uleb(inPtr(j)), OP.localGet, ...uleb(inStride(j)), OP.i32Add, OP.localSet, ...uleb(inPtr(j)));
  }
  code.push(OP.localGet, ...uleb(rLocal), OP.i32Const, 1, OP.i32Add, OP.localSet, ...uleb(rLocal));
  code.push(OP.br, 0, OP.end, OP.end);
  code.push(OP.end);
  const fn = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code];
  return [...uleb(fn.length), ...fn];
}

/** The module bytes: imports env.memory (shared or not), exports `run`. */
export function wasmModuleBytes(program: ElementwiseProgram, layouts: readonly InputLayout[], sharedMemory: boolean, maxPages: number): Uint8Array<ArrayBuffer> {
  const pointers = 2 + program.outputs.length + 2 * layouts.length; // n, rows, outputs, (input, row stride) pairs
  const consts = program.exprs.filter((e) => e.op === 'const').length;
  const paramTypes = [...new Array<number[]>(pointers).fill([0x7f]), ...new Array<number[]>(consts).fill([0x7d])];
  // type 0: run; type 1: v128 -> v128 (the imported vector math)
  const type = section(1, vec([[0x60, ...vec(paramTypes), 0], [0x60, 1, 0x7b, 1, 0x7b]]));
  const limits = sharedMemory ? [0x03, ...uleb(1), ...uleb(maxPages)] : [0x00, ...uleb(1)];
  const imports = section(2, vec([
    [...name('env'), ...name('memory'), 0x02, ...limits],
    ...VMATH.map((f) => [...name('env'), ...name(f), 0x00, 1]),
  ]));
  const funcs = section(3, vec([[0]]));
  const exports = section(7, vec([[...name('run'), 0x00, VMATH.length]]));
  const code = section(10, vec([body(program, layouts)]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}

/** The fast kernel module's exported f32x4 functions the generated modules import. */
export type VectorMath = { readonly [F in (typeof VMATH)[number]]: WebAssembly.ExportValue };

/** The compiled `run(n, rows, ...outPtrs, ...(inPtr, inRowStrideBytes), ...constants)` of a program, for one memory. */
export type WasmProgram = (...args: number[]) => void;

/**
 * One generator's compiled modules (by program structure, input layouts and memory kind; null:
 * the generator does not apply or compiling failed) and their instances (per memory, already
 * wrapped for the worker pool).
 *
 * @example
 * ```ts
 * const ROWS = new WasmProgramCache();
 * ```
 */
export class WasmProgramCache {
  readonly modules = new Map<string, WebAssembly.Module | null>();
  readonly instances = new WeakMap<WebAssembly.Memory, Map<string, WasmProgram>>();
}

/**
 * The cache key of a program's module: its structure id (core's programId), one letter per
 * input layout, and whether the memory is shared.
 *
 * @example
 * ```ts
 * programModuleKey(3, ['contiguous', 'scalar'], true); // '3|cs|s'
 * ```
 */
export function programModuleKey(id: number, layouts: readonly InputLayout[], sharedMemory: boolean): string {
  let l = '';
  for (const x of layouts) l += x === 'contiguous' ? 'c' : 's';
  return `${id}|${l}|${sharedMemory ? 's' : 'p'}`;
}

/**
 * How {@link cachedWasmProgram} makes a program's function on a cache miss (one static object
 * per generator, so a hit allocates nothing): whether the generator applies, the module bytes,
 * and the worker-pool wrapper (null: this program's calls are never split).
 *
 * @example
 * ```ts
 * const NEVER_SPLIT: ProgramGenerator = { supports: wasmSupports, bytes: wasmModuleBytes, threaded: () => null };
 * ```
 */
export interface ProgramGenerator {
  readonly supports: (program: ElementwiseProgram) => boolean;
  readonly bytes: (program: ElementwiseProgram, layouts: readonly InputLayout[], sharedMemory: boolean, maxPages: number) => Uint8Array<ArrayBuffer>;
  readonly threaded: (program: ElementwiseProgram, layouts: readonly InputLayout[]) => ((rt: FastRuntime, module: WebAssembly.Module, run: WasmProgram) => WasmProgram) | null;
}

/**
 * The function of `program` (inputs read as `layouts`) cached under `key` in `cache` for
 * `memory`, compiling and instantiating it with `gen` (the fast kernels' vector math imported,
 * wrapped for the worker pool when the memory is shared and the runtime has workers) on the
 * first call; null when the generator does not apply or compiling fails. One source for both
 * generators (codegen-wasm-rows.ts too). A hit costs two map lookups.
 *
 * @example
 * ```ts
 * const run = cachedWasmProgram(cache, programModuleKey(id, layouts, heap.shared), gen, program, layouts, heap.memory, heap.shared, MAX_PAGES, rt.kernels);
 * ```
 */
export function cachedWasmProgram(cache: WasmProgramCache, key: string, gen: ProgramGenerator, program: ElementwiseProgram, layouts: readonly InputLayout[], memory: WebAssembly.Memory, sharedMemory: boolean, maxPages: number, vmath: VectorMath): WasmProgram | null {
  let byMemory = cache.instances.get(memory);
  const cached = byMemory?.get(key);
  if (cached !== undefined) return cached;
  let module = cache.modules.get(key);
  if (module === undefined) {
    try {
      module = gen.supports(program) ? new WebAssembly.Module(gen.bytes(program, layouts, sharedMemory, maxPages)) : null;
    } catch {
      module = null;
    }
    cache.modules.set(key, module);
  }
  if (module === null) return null;
  let run = new WebAssembly.Instance(module, { env: { memory, ...vmath } }).exports.run as WasmProgram;
  const rt = sharedMemory ? FastRuntime.owning(memory) : undefined;
  const threaded = rt !== undefined && rt.maxThreads > 1 ? gen.threaded(program, layouts) : null;
  if (rt !== undefined && threaded !== null) run = threaded(rt, module, run);
  if (byMemory === undefined) cache.instances.set(memory, (byMemory = new Map()));
  byMemory.set(key, run);
  return run;
}

/** The elementwise generator; its programs' calls split over the pool when every expr is elementwise. */
const ELEMENTWISE: ProgramGenerator = {
  supports: wasmSupports,
  bytes: wasmModuleBytes,
  threaded: (program, layouts) => (splittable(program) ? (rt, module, run) => threadedProgram(rt, module, run, program, layouts) : null),
};

const programs = new WasmProgramCache();
let runs = 0;

/**
 * @internal How many program calls took the wasm path so far (tests check the path is used).
 *
 * @example
 * ```ts
 * const before = wasmProgramRuns();
 * ```
 */
export function wasmProgramRuns(): number {
  return runs;
}

/**
 * The wasm function running `program` (structure `id`, core's programId; inputs read as
 * `layouts`) on `memory`, compiled once per structure; null when the program has ops the
 * generator does not emit or compiling fails.
 *
 * @example
 * ```ts
 * const run = wasmProgram(program, programId(program), ['contiguous', 'scalar'], heap.memory, heap.shared, MAX_PAGES, rt.kernels);
 * run?.(n, rows, outPtr, xPtr, xRowStride, aPtr, 0);
 * ```
 */
export function wasmProgram(program: ElementwiseProgram, id: number, layouts: readonly InputLayout[], memory: WebAssembly.Memory, sharedMemory: boolean, maxPages: number, vmath: VectorMath): WasmProgram | null {
  const run = cachedWasmProgram(programs, programModuleKey(id, layouts, sharedMemory), ELEMENTWISE, program, layouts, memory, sharedMemory, maxPages, vmath);
  if (run !== null) runs++;
  return run;
}
