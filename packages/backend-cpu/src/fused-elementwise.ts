// SPDX-License-Identifier: MIT
// The CPU's fused `elementwise` kernel: a program from core's lazy layer becomes ONE generated
// JavaScript loop (new Function, cached by the program's structure), so a chain of elementwise
// primitives reads its inputs once and writes only the values that escape. A program with
// reductions (reduceAxes > 0) becomes a loop over rows with one sweep over the row's inner
// elements per pass (`generateRows`; core's programLevels says which expr is computed where).
// Invariants:
// - each step is computed in doubles and rounded to its dtype exactly as elementwise.ts's
//   output buffers store it (Math.fround for float32, ToInt32 for int32, 0/1 for bool; int32
//   products and powers wrap like Math.imul / intPow), so results equal the op-by-op kernels';
// - inputs are walked by one shared odometer over the coalesced shape; outputs are contiguous;
// - where `new Function` is unavailable (a CSP without 'unsafe-eval') the kernel declines.
import {
  allocArray, coalesceDims, contiguousStrides, programId, programLevels, programSweeps, sizeOf,
  type BinaryOp, type DataId, type DType, type ElementwiseProgram, type StridedView, type TypedArray, type UnaryOp,
} from '@heed/core';
import { cPow, erf, intPow, pyMod, roundHalfEven, sigmoid } from './math.js';
import { arrayOf, wrap } from './storage.js';
import { HeapBuffer } from './fast/buffer.js';
import { flatRun, keepPrepared, preparedRun, rowsRun, type PreparedRun } from './fast/prepared-program.js';
import { wasmProgram, type InputLayout } from './fast/codegen-wasm.js';
import type { NativeKernels } from './fast/native.js';
import { nativeProgram } from './fast/native-program.js';
import { wasmRowProgram } from './fast/codegen-wasm-rows.js';
import type { FastRuntime } from './fast/runtime.js';
import { MAX_PAGES } from './fast/heap.js';

/** Math helpers the generated code may call (one source: math.ts). */
const HELPERS = { cPow, erf, intPow, pyMod, roundHalfEven, sigmoid } as const;

/** JavaScript for each unary op applied to the double `x` (the same formulas as elementwise.ts's rows). */
const UNARY_JS: { readonly [K in UnaryOp]: (x: string) => string } = {
  neg: (x) => `(-${x})`, abs: (x) => `Math.abs(${x})`, sign: (x) => `Math.sign(${x})`, exp: (x) => `Math.exp(${x})`,
  expm1: (x) => `Math.expm1(${x})`, log: (x) => `Math.log(${x})`, log1p: (x) => `Math.log1p(${x})`,
  sqrt: (x) => `Math.sqrt(${x})`, rsqrt: (x) => `(1 / Math.sqrt(${x}))`, square: (x) => `(${x} * ${x})`,
  reciprocal: (x) => `(1 / ${x})`, sin: (x) => `Math.sin(${x})`, cos: (x) => `Math.cos(${x})`, tanh: (x) => `Math.tanh(${x})`,
  sigmoid: (x) => `H.sigmoid(${x})`, relu: (x) => `(${x} < 0 ? 0 : ${x})`, erf: (x) => `H.erf(${x})`,
  floor: (x) => `Math.floor(${x})`, ceil: (x) => `Math.ceil(${x})`, round: (x) => `H.roundHalfEven(${x})`,
  not: (x) => `(${x} === 0 ? 1 : 0)`, isnan: (x) => `(${x} !== ${x} ? 1 : 0)`,
};

/** JavaScript for each binary op applied to the doubles `a` and `b`. */
const BINARY_JS: { readonly [K in BinaryOp]: (a: string, b: string) => string } = {
  add: (a, b) => `(${a} + ${b})`, sub: (a, b) => `(${a} - ${b})`, mul: (a, b) => `(${a} * ${b})`, div: (a, b) => `(${a} / ${b})`,
  pow: (a, b) => `H.cPow(${a}, ${b})`, maximum: (a, b) => `Math.max(${a}, ${b})`, minimum: (a, b) => `Math.min(${a}, ${b})`,
  mod: (a, b) => `H.pyMod(${a}, ${b})`, atan2: (a, b) => `Math.atan2(${a}, ${b})`,
  eq: (a, b) => `(${a} === ${b} ? 1 : 0)`, ne: (a, b) => `(${a} !== ${b} ? 1 : 0)`, lt: (a, b) => `(${a} < ${b} ? 1 : 0)`,
  le: (a, b) => `(${a} <= ${b} ? 1 : 0)`, gt: (a, b) => `(${a} > ${b} ? 1 : 0)`, ge: (a, b) => `(${a} >= ${b} ? 1 : 0)`,
  and: (a, b) => `(${a} !== 0 && ${b} !== 0 ? 1 : 0)`, or: (a, b) => `(${a} !== 0 || ${b} !== 0 ? 1 : 0)`,
  xor: (a, b) => `((${a} !== 0) !== (${b} !== 0) ? 1 : 0)`,
};

/** Ops whose results are already 0/1 (elementwise.ts's BOOL_NATIVE). */
const BOOL_NATIVE = new Set<string>(['not', 'isnan', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor']);

/** Rounds the double `v` as a buffer of `dtype` stores it (bool only when not already 0/1). */
function store(v: string, dtype: DType, alreadyBool: boolean): string {
  if (dtype === 'float32') return `Math.fround(${v})`;
  if (dtype === 'int32') return `(${v} | 0)`;
  return alreadyBool ? v : `(${v} !== 0 ? 1 : 0)`;
}

/** `value` as a buffer of `dtype` stores it (the constants' run-time values). */
function stored(value: number, dtype: DType): number {
  return dtype === 'float32' ? Math.fround(value) : dtype === 'int32' ? value | 0 : value !== 0 ? 1 : 0;
}

/**
 * The JavaScript value of expr `k` (reading earlier exprs as `v<i>`, constants as `C[<c>]`);
 * null for ops this generator does not emit here (inputs, reductions: the caller's loop).
 *
 * @example
 * ```ts
 * exprJs(program.exprs, 5, 'C[0]'); // 'Math.fround((v3 + v4))'
 * ```
 */
export function exprJs(exprs: ElementwiseProgram['exprs'], k: number, constant: string): string | null {
  const e = exprs[k];
  switch (e.op) {
    case 'input': case 'rowInput': case 'reduce': return null;
    case 'const': return constant;
    case 'unary': {
      const int = e.dtype === 'int32' && exprs[e.x].dtype !== 'float32';
      return store(e.fn === 'square' && int ? `Math.imul(v${e.x}, v${e.x})` : UNARY_JS[e.fn](`v${e.x}`), e.dtype, BOOL_NATIVE.has(e.fn));
    }
    case 'binary': {
      const int = e.dtype === 'int32' && exprs[e.a].dtype !== 'float32' && exprs[e.b].dtype !== 'float32';
      const a = `v${e.a}`, b = `v${e.b}`;
      const raw = int && e.fn === 'mul' ? `Math.imul(${a}, ${b})` : int && e.fn === 'pow' ? `H.intPow(${a}, ${b})` : BINARY_JS[e.fn](a, b);
      return store(raw, e.dtype, BOOL_NATIVE.has(e.fn));
    }
    case 'where': return `(v${e.cond} !== 0 ? v${e.a} : v${e.b})`;
    case 'cast': return store(`v${e.x}`, e.dtype, exprs[e.x].dtype === 'bool');
  }
}

type Kernel = (ins: readonly TypedArray[], outs: readonly TypedArray[], bases: readonly Int32Array[], strides: Int32Array, n: number, rows: number, C: Float64Array) => void;

/** The loop body: one `const vK = ...` per expr, then the stores of the outputs. */
function generate(program: ElementwiseProgram): string {
  const { exprs, outputs } = program;
  let consts = 0;
  const inputs = exprs.filter((e) => e.op === 'input').length;
  const body: string[] = [];
  for (let k = 0; k < exprs.length; k++) {
    const e = exprs[k];
    const v = e.op === 'input' ? `I${e.input}[p${e.input}]` : exprJs(exprs, k, `C[${e.op === 'const' ? consts++ : -1}]`);
    if (v === null) throw new Error(`unreachable: ${e.op} in a program without reductions`);
    body.push(`const v${k} = ${v};`);
  }
  outputs.forEach((o, i) => body.push(`O${i}[o] = v${o};`));
  const decl: string[] = [];
  for (let i = 0; i < inputs; i++) decl.push(`const I${i} = ins[${i}], B${i} = bases[${i}], s${i} = strides[${i}];`);
  outputs.forEach((_, i) => decl.push(`const O${i} = outs[${i}];`));
  const starts = Array.from({ length: inputs }, (_, i) => `let p${i} = B${i}[r];`).join(' ');
  const steps = Array.from({ length: inputs }, (_, i) => `, p${i} += s${i}`).join('');
  return `${decl.join('\n')}
for (let r = 0, o = 0; r < rows; r++) {
  ${starts}
  for (let j = 0; j < n; j++, o++${steps}) {
    ${body.join('\n    ')}
  }
}`;
}

type RowKernel = (ins: readonly TypedArray[], outs: readonly TypedArray[], outer: readonly Int32Array[], inner: readonly Int32Array[], strides: Int32Array, n: number, runs: number, rows: number, C: Float64Array) => void;

const REDUCE_INIT = { sum: '0', prod: '1', max: '-Infinity', min: 'Infinity' } as const;
const REDUCE_STEP = {
  sum: (a: string, x: string) => `${a} += ${x};`,
  prod: (a: string, x: string) => `${a} *= ${x};`,
  max: (a: string, x: string) => `if (${x} > ${a} || ${x} !== ${x}) ${a} = ${x};`,
  min: (a: string, x: string) => `if (${x} < ${a} || ${x} !== ${x}) ${a} = ${x};`,
} as const;

/**
 * The body of a program with reductions: per row, the row-level exprs of pass p, then sweep p
 * over the row's inner elements (computing the element-level exprs that sweep needs, folding
 * the reductions of that pass, writing the element outputs of that pass); row outputs last.
 * Reductions accumulate in doubles in row-major order and round once, like reduce.ts. Null
 * when a reduction is not float32 (the caller declines).
 */
function generateRows(program: ElementwiseProgram): string | null {
  const { exprs, outputs } = program;
  const levels = programLevels(program);
  const { row, pass, passes } = levels;
  const sweeps = programSweeps(program, levels);
  if (exprs.some((e) => e.op === 'reduce' && e.dtype !== 'float32')) return null;
  const nIn = exprs.filter((e) => e.op === 'input' || e.op === 'rowInput').length;
  const top: string[] = [];
  let consts = 0;
  exprs.forEach((e, k) => { if (e.op === 'const') top.push(`const v${k} = C[${consts++}];`); });
  for (let i = 0; i < nIn; i++) top.push(`const I${i} = ins[${i}], R${i} = outer[${i}], Q${i} = inner[${i}], s${i} = strides[${i}];`);
  outputs.forEach((_, i) => top.push(`const O${i} = outs[${i}];`));
  const lines: string[] = [];
  lines.push(`for (let r = 0; r < rows; r++) {`);
  for (let i = 0; i < nIn; i++) lines.push(`  const b${i} = R${i}[r];`);
  const rowExpr = (k: number): string => {
    const e = exprs[k];
    if (e.op === 'rowInput') return `I${e.input}[b${e.input}]`;
    if (e.op === 'reduce') return `Math.fround(a${k})`;
    return exprJs(exprs, k, '') as string;
  };
  for (let p = 0; p <= passes; p++) {
    exprs.forEach((e, k) => { if (row[k] && e.op !== 'const' && pass[k] === p) lines.push(`  const v${k} = ${rowExpr(k)};`); });
    if (p === passes) break;
    const sweep = sweeps[p];
    if (sweep === null) continue;
    const { folds, writes, need } = sweep;
    for (const f of folds) lines.push(`  let a${f} = ${REDUCE_INIT[(exprs[f] as { fn: keyof typeof REDUCE_INIT }).fn]};`);
    const reads = need.flatMap((x) => { const e = exprs[x]; return e.op === 'input' ? [e.input] : []; });
    lines.push(`  for (let q = 0, o = r * inner_; q < runs; q++) {`);
    lines.push(`    ${reads.map((i) => `let p${i} = b${i} + Q${i}[q];`).join(' ')}`);
    lines.push(`    for (let j = 0; j < n; j++, o++${reads.map((i) => `, p${i} += s${i}`).join('')}) {`);
    for (const x of need) {
      const e = exprs[x];
      lines.push(`      const v${x} = ${e.op === 'input' ? `I${e.input}[p${e.input}]` : exprJs(exprs, x, '') as string};`);
    }
    for (const f of folds) { const e = exprs[f] as { fn: keyof typeof REDUCE_STEP; x: number }; lines.push(`      ${REDUCE_STEP[e.fn](`a${f}`, `v${e.x}`)}`); }
    for (const w of writes) lines.push(`      O${w}[o] = v${outputs[w]};`);
    lines.push('    }', '  }');
  }
  outputs.forEach((o, i) => { if (row[o]) lines.push(`  O${i}[r] = v${o};`); });
  lines.push('}');
  return `${top.join('\n')}\nconst inner_ = n * runs;\n${lines.join('\n')}`;
}

const rowCache = new Map<number, RowKernel | null>();

/**
 * Runs a program with reductions (reduceAxes > 0) as one generated row loop: new contiguous
 * buffers per output (the program's shape for element-level outputs, its row shape for
 * row-level ones). Null when code generation is unavailable or declines.
 */
function fusedRows(program: ElementwiseProgram, key: number, inputs: readonly StridedView[], rt: FastRuntime | null): DataId[] | null {
  let kernel = rowCache.get(key);
  if (kernel === undefined) {
    const code = generateRows(program);
    try {
      kernel = code === null ? null : (new Function('H', `return function fusedRows(ins, outs, outer, inner, strides, n, runs, rows, C) {\n${code}\n};`) as (h: typeof HELPERS) => RowKernel)(HELPERS);
    } catch {
      kernel = null;
    }
    rowCache.set(key, kernel);
  }
  if (kernel === null) return null;
  const { shape, exprs, outputs } = program;
  const { row, rowShape } = programLevels(program);
  const innerShape = shape.slice(rowShape.length);
  const isRowInput = new Array<boolean>(inputs.length).fill(false);
  for (const e of exprs) if (e.op === 'rowInput') isRowInput[e.input] = true;
  // rows: every input's strides over the row dims (an element input's leading strides)
  const rowCount = sizeOf(rowShape);
  const o = coalesceDims(rowShape, inputs.map((v) => v.strides.slice(0, rowShape.length)));
  // inner: the element inputs' strides over the reduced dims, as runs of n
  const size = sizeOf(innerShape);
  const c = coalesceDims(innerShape, [contiguousStrides(innerShape), ...inputs.map((v, j) => (isRowInput[j] ? [] : v.strides.slice(rowShape.length)))]);
  const n = size === 0 ? 0 : c.shape.length === 0 ? 1 : c.shape[c.shape.length - 1];
  const runs = n === 0 ? 0 : size / n;
  const innerStrides = c.strides.slice(1);
  // several runs per row only for one row or row outputs only (the worker pool's row split assumes rows of n)
  const elementOut = outputs.some((k) => !row[k]);
  if (rt !== null && rowCount > 0 && n > 0 && (c.shape.length <= 1 || (c.shape.length === 2 && (rowCount === 1 || !elementOut))) && o.shape.length <= 1) {
    // one wasm call: rows of `runs` runs of n elements, one stride per input between rows and between runs
    const last = (st: readonly number[]) => (st.length === 0 ? 0 : st[st.length - 1]);
    const run = (st: readonly number[]) => (st.length === 2 ? st[0] : 0);
    const done = prepareWasmRows(rt, program, key, row, inputs, rowCount, n, runs, o.strides.map((st) => st[0] ?? 0), innerStrides.map(last), innerStrides.map(run), isRowInput)?.run(inputs);
    if (done != null) return done;
  }
  const outer = rowBases(o.shape, o.strides, inputs.map((v) => v.offset), rowCount);
  const inner = rowBases(c.shape.slice(0, -1), innerStrides.map((st) => st.slice(0, -1)), inputs.map(() => 0), runs);
  const strides = Int32Array.from(innerStrides, (st) => (st.length === 0 ? 0 : st[st.length - 1]));
  const total = sizeOf(shape);
  const ids = outputs.map((k): DataId => {
    const dtype = exprs[k].dtype;
    const count = row[k] ? rowCount : total;
    const heap = rt !== null && dtype === 'float32' && count > 0 ? HeapBuffer.alloc(rt.heap, count) : null;
    return heap ?? wrap(allocArray(dtype, count), dtype);
  });
  const outs = ids.map((id) => arrayOf(id, 'elementwise')); // after every allocation: the heap may have grown
  kernel(inputs.map((v) => arrayOf(v.data, 'elementwise')), outs, outer, inner, strides, n, runs, rowCount, constantsOf(program));
  return ids;
}

/** A program with reductions as generated WASM SIMD over the fast heap (one coalesced row dim, rows of `runs` runs of n), kept (prepared-program.ts) for the next call with this layout; null where it does not apply. */
function prepareWasmRows(rt: FastRuntime, program: ElementwiseProgram, key: number, row: readonly boolean[], inputs: readonly StridedView[], rows: number, n: number, runs: number, rowStrides: readonly number[], innerStrides: readonly number[], runStrides: readonly number[], isRowInput: readonly boolean[]): PreparedRun | null {
  if (inputs.some((v) => v.dtype !== 'float32')) return null;
  const layouts: InputLayout[] = [];
  for (let j = 0; j < inputs.length; j++) {
    if (isRowInput[j] || innerStrides[j] === 0 || n === 1) layouts.push('scalar');
    else if (innerStrides[j] === 1) layouts.push('contiguous');
    else return null;
  }
  const heap = rt.heap;
  const run = wasmRowProgram(program, key, layouts, heap.memory, heap.shared, MAX_PAGES, rt.kernels);
  if (run === null) return null;
  const sizes = program.outputs.map((o) => (row[o] ? rows : rows * runs * n));
  const template: number[] = [rows, n, ...sizes.map(() => 0)];
  inputs.forEach((_, j) => template.push(0, rowStrides[j] * 4));
  template.push(...constantsOf(program), runs, ...inputs.map((_, j) => (isRowInput[j] ? 0 : runStrides[j]) * 4));
  return keepPrepared(program, rt, inputs, rowsRun(heap, run, sizes, template, inputs.map((v) => v.offset)));
}

/** The last answer of canGenerateJs, for the Function constructor it was asked of. */
let jsCodegen: { readonly ctor: FunctionConstructor; readonly ok: boolean } | null = null;

/**
 * Whether this realm lets code be generated with `new Function` (a Content-Security-Policy
 * without 'unsafe-eval' does not; then every JS kernel here declines). The answer is kept for
 * the realm's current `Function` constructor and asked afresh when that changes (a test that
 * stubs it): compiling even an empty body on every call showed as 1.1% of the compiled
 * training step's main thread in a CPU profile.
 *
 * @example
 * ```ts
 * if (!canGenerateJs()) return null; // decline before doing work the fallback would repeat
 * ```
 */
export function canGenerateJs(): boolean {
  const ctor = globalThis.Function;
  if (jsCodegen !== null && jsCodegen.ctor === ctor) return jsCodegen.ok;
  let ok: boolean;
  try {
    ok = typeof new Function('') === 'function';
  } catch {
    ok = false;
  }
  jsCodegen = { ctor, ok };
  return ok;
}

const cache = new Map<number, Kernel | null>();

function compile(program: ElementwiseProgram, key: number): Kernel | null {
  let k = cache.get(key);
  if (k === undefined) {
    try {
      const make = new Function('H', `return function fused(ins, outs, bases, strides, n, rows, C) {\n${generate(program)}\n};`) as (h: typeof HELPERS) => Kernel;
      k = make(HELPERS);
    } catch {
      k = null; // no eval here (CSP): decline, the lazy layer runs the primitives
    }
    cache.set(key, k);
  }
  return k;
}

/** The constants' values in program order, as stored in their dtypes. */
function constantsOf(program: ElementwiseProgram): Float64Array {
  let n = 0;
  for (const e of program.exprs) if (e.op === 'const') n++;
  const values = new Float64Array(n);
  n = 0;
  for (const e of program.exprs) if (e.op === 'const') values[n++] = stored(e.value, e.dtype);
  return values;
}

/** The program's shape with mergeable dims merged, and each input's strides over it (the output is contiguous). */
function coalesced(shape: readonly number[], inputs: readonly StridedView[]): { dims: number[]; strides: number[][] } {
  const merged = coalesceDims(shape, [contiguousStrides(shape), ...inputs.map((v) => v.strides)]);
  return { dims: merged.shape, strides: merged.strides.slice(1) };
}

/** The coalesced iteration: run length n, number of runs, each input's run start offsets and inner stride. */
function walkPlan(shape: readonly number[], inputs: readonly StridedView[], size: number) {
  const { dims, strides: inputStrides } = coalesced(shape, inputs);
  const n = size === 0 ? 0 : dims.length === 0 ? 1 : dims[dims.length - 1];
  const rows = n === 0 ? 0 : size / n;
  const bases = rowBases(dims.slice(0, -1), inputStrides.map((s) => s.slice(0, -1)), inputs.map((v) => v.offset), rows);
  const inner = Int32Array.from(inputStrides, (s) => (s.length === 0 ? 0 : s[s.length - 1]));
  return { n, rows, bases, inner };
}

/** Start offset of every run (row) of each input over the coalesced iteration shape. */
function rowBases(dims: readonly number[], strides: readonly (readonly number[])[], offsets: readonly number[], rows: number): Int32Array[] {
  const bases = offsets.map(() => new Int32Array(rows));
  const count = new Array<number>(dims.length).fill(0);
  const pos = offsets.slice();
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < pos.length; i++) bases[i][r] = pos[i];
    for (let d = dims.length - 1; d >= 0; d--) {
      count[d]++;
      for (let i = 0; i < pos.length; i++) pos[i] += strides[i][d];
      if (count[d] < dims[d]) break;
      for (let i = 0; i < pos.length; i++) pos[i] -= strides[i][d] * dims[d];
      count[d] = 0;
    }
  }
  return bases;
}

/**
 * Runs a fused elementwise program (see core's `ElementwiseProgram`): new contiguous buffers,
 * one per output, equal to what the op-by-op kernels give. Null when code generation is
 * unavailable.
 *
 * @example
 * ```ts
 * const [out] = fusedElementwise(program, [x, a, b]) ?? runProgramByPrimitives(backend, program, [x, a, b]);
 * ```
 */
export function fusedElementwise(program: ElementwiseProgram, inputs: readonly StridedView[], rt: FastRuntime | null = null, native: NativeKernels | null = null): DataId[] | null {
  if (rt !== null) {
    // a compiled step's replay: the same program object and input layout as last time
    const done = preparedRun(program, rt, inputs)?.run(inputs);
    if (done != null) return done;
  }
  const key = programId(program); // the kernel caches' key (the program's structure)
  if ((program.reduceAxes ?? 0) > 0) return fusedRows(program, key, inputs, rt);
  const size = sizeOf(program.shape);
  if (rt !== null && size > 0) {
    const done = runWasm(rt, program, key, inputs, size, native);
    if (done !== null) return done;
  }
  const kernel = compile(program, key);
  if (kernel === null) return null;
  const { shape, exprs, outputs } = program;
  // float32 results go to the fast path's heap when there is one, so its WASM kernels read them in place.
  const ids = outputs.map((o): DataId => {
    const dtype = exprs[o].dtype;
    const heap = rt !== null && dtype === 'float32' ? HeapBuffer.alloc(rt.heap, size) : null;
    return heap ?? wrap(allocArray(dtype, size), dtype);
  });
  const outs = ids.map((id) => arrayOf(id, 'elementwise')); // after every allocation: the heap may have grown
  const { n, rows, bases, inner } = walkPlan(shape, inputs, size);
  const arrays = inputs.map((v) => arrayOf(v.data, 'elementwise'));
  kernel(arrays, outs, bases, inner, n, rows, constantsOf(program));
  return ids;
}

/**
 * The program as generated WASM SIMD over the fast heap — or, with a native provider that has
 * the interpreter, as its bytecode there (same call, see native-program.ts) — or null where
 * neither applies (see codegen-wasm.ts).
 */
function runWasm(rt: FastRuntime, program: ElementwiseProgram, key: number, inputs: readonly StridedView[], size: number, native: NativeKernels | null): DataId[] | null {
  return prepareWasm(rt, program, key, inputs, size, native)?.run(inputs) ?? null;
}

/** runWasm's layout work, kept (prepared-program.ts) for the next call with this layout; null where it does not apply. */
function prepareWasm(rt: FastRuntime, program: ElementwiseProgram, key: number, inputs: readonly StridedView[], size: number, native: NativeKernels | null): PreparedRun | null {
  if (inputs.some((v) => v.dtype !== 'float32')) return null;
  // The coalesced shape is [...outer, mid, n]: one wasm call runs mid rows of n elements (each
  // input's inner stride must be 1, a contiguous run, or 0, one element broadcast over the run;
  // its mid stride is free); the outer dims, rare after coalescing, are a loop of calls.
  const { dims, strides } = coalesced(program.shape, inputs);
  const rank = dims.length;
  const n = rank === 0 ? 1 : dims[rank - 1];
  const mid = rank < 2 ? 1 : dims[rank - 2];
  const calls = size / (n * mid);
  const layouts: InputLayout[] = [];
  for (let j = 0; j < inputs.length; j++) {
    const inner = rank === 0 ? 0 : strides[j][rank - 1];
    if (inner === 1) layouts.push('contiguous');
    else if (inner === 0 || n === 1) layouts.push('scalar');
    else return null;
  }
  const heap = rt.heap;
  const run = (native !== null ? nativeProgram(rt, native, program, key, layouts) : null)
    ?? wasmProgram(program, key, layouts, heap.memory, heap.shared, MAX_PAGES, rt.kernels);
  if (run === null) return null;
  const outer = rank <= 2 ? [] : dims.slice(0, rank - 2);
  const bases = rowBases(outer, strides.map((st) => st.slice(0, outer.length)), inputs.map((v) => v.offset), calls);
  const consts = constantsOf(program);
  const nOut = program.outputs.length;
  const template = new Array<number>(2 + nOut + 2 * inputs.length + consts.length).fill(0);
  template[0] = n;
  template[1] = mid;
  for (let j = 0; j < inputs.length; j++) template[3 + nOut + 2 * j] = (rank < 2 ? 0 : strides[j][rank - 2]) * 4;
  consts.forEach((c, k) => { template[2 + nOut + 2 * inputs.length + k] = c; });
  return keepPrepared(program, rt, inputs, flatRun(heap, run, size, nOut, template, bases, calls, mid * n));
}
