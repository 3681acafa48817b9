// SPDX-License-Identifier: MIT
// The CPU's fused `elementwise` kernel: a program from core's lazy layer becomes ONE generated
// JavaScript loop (new Function, cached by the program's structure), so a chain of elementwise
// primitives reads its inputs once and writes only the values that escape. Invariants:
// - each step is computed in doubles and rounded to its dtype exactly as elementwise.ts's
//   output buffers store it (Math.fround for float32, ToInt32 for int32, 0/1 for bool; int32
//   products and powers wrap like Math.imul / intPow), so results equal the op-by-op kernels';
// - inputs are walked by one shared odometer over the coalesced shape; outputs are contiguous;
// - where `new Function` is unavailable (a CSP without 'unsafe-eval') the kernel declines.
import {
  allocArray, coalesceDims, contiguousStrides, programKey, sizeOf,
  type BinaryOp, type DataId, type DType, type ElementwiseProgram, type StridedView, type TypedArray, type UnaryOp,
} from '@heed/core';
import { cPow, erf, intPow, pyMod, roundHalfEven, sigmoid } from './math.js';
import { arrayOf, wrap } from './storage.js';
import { HeapBuffer, heapSourceOf, type HeapSource } from './fast/buffer.js';
import { wasmProgram, type InputLayout } from './fast/codegen-wasm.js';
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

type Kernel = (ins: readonly TypedArray[], outs: readonly TypedArray[], bases: readonly Int32Array[], strides: Int32Array, n: number, rows: number, C: Float64Array) => void;

/** The loop body: one `const vK = ...` per expr, then the stores of the outputs. */
function generate(program: ElementwiseProgram): string {
  const { exprs, outputs } = program;
  let consts = 0;
  const inputs = exprs.filter((e) => e.op === 'input').length;
  const body: string[] = [];
  for (let k = 0; k < exprs.length; k++) {
    const e = exprs[k];
    let v: string;
    switch (e.op) {
      case 'input': v = `I${e.input}[p${e.input}]`; break;
      case 'const': v = `C[${consts++}]`; break;
      case 'unary': {
        const int = e.dtype === 'int32' && exprs[e.x].dtype !== 'float32';
        v = store(e.fn === 'square' && int ? `Math.imul(v${e.x}, v${e.x})` : UNARY_JS[e.fn](`v${e.x}`), e.dtype, BOOL_NATIVE.has(e.fn));
        break;
      }
      case 'binary': {
        const int = e.dtype === 'int32' && exprs[e.a].dtype !== 'float32' && exprs[e.b].dtype !== 'float32';
        const a = `v${e.a}`, b = `v${e.b}`;
        const raw = int && e.fn === 'mul' ? `Math.imul(${a}, ${b})` : int && e.fn === 'pow' ? `H.intPow(${a}, ${b})` : BINARY_JS[e.fn](a, b);
        v = store(raw, e.dtype, BOOL_NATIVE.has(e.fn));
        break;
      }
      case 'where': v = `(v${e.cond} !== 0 ? v${e.a} : v${e.b})`; break;
      case 'cast': v = store(`v${e.x}`, e.dtype, exprs[e.x].dtype === 'bool'); break;
    }
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

const cache = new Map<string, Kernel | null>();
const keys = new WeakMap<ElementwiseProgram, string>();
function keyOf(program: ElementwiseProgram): string {
  let k = keys.get(program);
  if (k === undefined) keys.set(program, (k = programKey(program)));
  return k;
}

function compile(program: ElementwiseProgram): Kernel | null {
  const key = keyOf(program);
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
  return Float64Array.from(program.exprs.flatMap((e) => (e.op === 'const' ? [stored(e.value, e.dtype)] : [])));
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
export function fusedElementwise(program: ElementwiseProgram, inputs: readonly StridedView[], rt: FastRuntime | null = null): DataId[] | null {
  const size = sizeOf(program.shape);
  if (rt !== null && size > 0) {
    const done = runWasm(rt, program, inputs, size);
    if (done !== null) return done;
  }
  const kernel = compile(program);
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

/** The program as generated WASM SIMD over the fast heap, or null where it does not apply (see codegen-wasm.ts). */
function runWasm(rt: FastRuntime, program: ElementwiseProgram, inputs: readonly StridedView[], size: number): DataId[] | null {
  if (inputs.some((v) => v.dtype !== 'float32')) return null;
  // The coalesced shape is [...outer, mid, n]: one wasm call runs mid rows of n elements (each
  // input's inner stride must be 1, a contiguous run, or 0, one element broadcast over the run;
  // its mid stride is free); the outer dims, rare after coalescing, are a JS loop of calls.
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
  const run = wasmProgram(program, keyOf(program), layouts, heap.memory, heap.shared, MAX_PAGES, rt.kernels);
  if (run === null) return null;
  const outs: HeapBuffer[] = [];
  const sources: HeapSource[] = [];
  try {
    for (let j = 0; j < program.outputs.length; j++) {
      const b = HeapBuffer.alloc(heap, size);
      if (b === null) return null;
      outs.push(b);
    }
    for (const v of inputs) {
      const src = heapSourceOf(heap, v.data, 'elementwise');
      if (src === null) return null;
      sources.push(src);
    }
    const outer = rank <= 2 ? [] : dims.slice(0, rank - 2);
    const bases = rowBases(outer, strides.map((st) => st.slice(0, outer.length)), inputs.map((v) => v.offset), calls);
    const consts = constantsOf(program);
    const nOut = outs.length;
    const args = new Array<number>(2 + nOut + 2 * sources.length + consts.length);
    args[0] = n;
    args[1] = mid;
    sources.forEach((_, j) => { args[3 + nOut + 2 * j] = (rank < 2 ? 0 : strides[j][rank - 2]) * 4; });
    consts.forEach((c, k) => { args[2 + nOut + 2 * sources.length + k] = c; });
    for (let c = 0; c < calls; c++) {
      for (let j = 0; j < nOut; j++) args[2 + j] = outs[j].ptr + c * mid * n * 4;
      for (let j = 0; j < sources.length; j++) args[2 + nOut + 2 * j] = sources[j].ptr + bases[j][c] * 4;
      run(...args);
    }
    const done = outs.slice();
    outs.length = 0;
    return done;
  } finally {
    for (const b of outs) b.release();
    for (const src of sources) src.release();
  }
}
