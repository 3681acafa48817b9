// SPDX-License-Identifier: MIT
// Lazy execution's fused elementwise programs on a native provider's interpreter
// (backend-native's program.c): the program is encoded once per structure and input layouts as
// the interpreter's int32 bytecode, and the runner it returns takes the generated WASM
// program's arguments (codegen-wasm.ts: n, rows, output pointers, input pointer + row stride
// pairs, constants), so fused-elementwise.ts calls either the same way. It runs the programs
// that pay (nativeProgramPays: dominated by exp/tanh/sigmoid, where its 8-16 wide vector math
// beats the WASM's 4 lanes; plain arithmetic is faster as generated WASM, which keeps values in
// registers). Elsewhere — no `program` kernel, an op the interpreter lacks — the WASM program
// runs. Invariants: the same ops and edge cases as the WASM programs (relu keeps NaN and -0;
// minimum/maximum propagate NaN); bindHeap runs inside each call, after the caller's last heap
// allocation; the vector math's multiply-adds are fused exactly when the
// WASM kernels' are (their relaxed-SIMD build), so values are bitwise the WASM programs'.
import { HeedError, type ElementwiseProgram } from '@heed/core';
import type { InputLayout, WasmProgram } from './codegen-wasm.js';
import { programModuleKey } from './codegen-wasm.js';
import { bindHeap, type NativeKernels } from './native.js';
import type { FastRuntime } from './runtime.js';

/** Bytecode op of each unary op the interpreter runs (program.c's U_ enum). */
const UNARY: { readonly [op: string]: number } = { neg: 0, abs: 1, sqrt: 2, square: 3, relu: 4, exp: 5, tanh: 6, sigmoid: 7 };
/** Bytecode op of each binary op the interpreter runs (program.c's B_ enum). */
const BINARY: { readonly [op: string]: number } = { add: 0, sub: 1, mul: 2, div: 3, minimum: 4, maximum: 5 };
/** Expr kinds (program.c's K_ enum). */
const KIND = { input: 0, const: 1, unary: 2, binary: 3, copy: 4 } as const;
/** The interpreter's limit on exprs, outputs, inputs and constants (program.c's MAX_EXPRS). */
const MAX_EXPRS = 96;
/** Words before the outputs (program.c's HEADER). */
const HEADER = 5;
/** Unary ops that are vector-math polynomials (the interpreter's AVX2/AVX-512 forms are 8-16 wide). */
const TRANSCENDENTAL = new Set(['exp', 'tanh', 'sigmoid']);
/**
 * Cost per element of one op, in units of a WASM arithmetic op (bench/cpu_native_program.mjs,
 * 2-core AMD EPYC, 64K elements, 1 thread): the interpreter pays ~2.1 units for each plain op
 * (it loads and stores a block per op where the generated WASM keeps values in registers) but
 * ~10 for exp/tanh/sigmoid, which the WASM programs pay ~48 for (4 lanes instead of 8).
 */
const COST = { wasm: { arith: 1, transcendental: 48 }, native: { arith: 2.1, transcendental: 10 } } as const;

/**
 * Whether the interpreter should run `program` instead of the generated WASM: when its
 * estimated cost (COST) is lower, i.e. the program is dominated by exp/tanh/sigmoid (a GELU, a
 * sigmoid gate) rather than by plain arithmetic (an optimizer update).
 *
 * @example
 * ```ts
 * nativeProgramPays(geluProgram); // true: one tanh, seven multiply/adds
 * ```
 */
export function nativeProgramPays(program: ElementwiseProgram): boolean {
  let arith = 0, transcendental = 0;
  for (const e of program.exprs) {
    if (e.op === 'unary' && TRANSCENDENTAL.has(e.fn)) transcendental++;
    else if (e.op === 'unary' || e.op === 'binary') arith++;
  }
  const cost = (c: { readonly arith: number; readonly transcendental: number }): number => c.arith * arith + c.transcendental * transcendental;
  return cost(COST.native) < cost(COST.wasm);
}

/**
 * The interpreter's bytecode for `program` read through `layouts`, or null when it has an op,
 * dtype or size the interpreter does not run. Layout: [nExprs, nOut, nIn, nConst, flags,
 * outputs..., then per expr kind, fn, a, b]; flags 1: fused multiply-adds in exp/tanh/sigmoid
 * (`fusedMadd`, for a WASM runtime of the 'relaxed' flavor).
 *
 * @example
 * ```ts
 * const code = encodeProgram(program, ['contiguous', 'scalar'], rt.flavor === 'relaxed'); // Int32Array | null
 * ```
 */
export function encodeProgram(program: ElementwiseProgram, layouts: readonly InputLayout[], fusedMadd: boolean): Int32Array | null {
  const { exprs, outputs } = program;
  if ((program.reduceAxes ?? 0) > 0 || exprs.length > MAX_EXPRS || outputs.length > MAX_EXPRS || layouts.length > MAX_EXPRS) return null;
  const code = new Int32Array(HEADER + outputs.length + 4 * exprs.length);
  let nConst = 0;
  code.set(outputs, HEADER);
  let w = HEADER + outputs.length;
  for (const e of exprs) {
    if (e.dtype !== 'float32') return null;
    switch (e.op) {
      case 'input': code.set([KIND.input, 0, e.input, layouts[e.input] === 'scalar' ? 1 : 0], w); break;
      case 'const': code.set([KIND.const, 0, nConst++, 0], w); break;
      case 'unary': {
        const fn = UNARY[e.fn];
        if (fn === undefined) return null;
        code.set([KIND.unary, fn, e.x, 0], w);
        break;
      }
      case 'binary': {
        const fn = BINARY[e.fn];
        if (fn === undefined) return null;
        code.set([KIND.binary, fn, e.a, e.b], w);
        break;
      }
      case 'cast': if (exprs[e.x].dtype !== 'float32') return null; code.set([KIND.copy, 0, e.x, 0], w); break;
      default: return null;
    }
    w += 4;
  }
  if (nConst > MAX_EXPRS) return null;
  code.set([exprs.length, outputs.length, layouts.length, nConst, fusedMadd ? 1 : 0], 0);
  return code;
}

/** Runners by provider, runtime, program structure and layouts. */
const runners = new WeakMap<NativeKernels, WeakMap<FastRuntime, Map<string, WasmProgram | null>>>();

/**
 * A runner of `program` (structure `id`, inputs read as `layouts`) on the provider's
 * interpreter, called like the generated WASM program; null when the provider has no `program`
 * kernel, the interpreter lacks one of the program's ops, or the WASM program is the faster
 * ({@link nativeProgramPays}). Cached per structure and layouts.
 *
 * @example
 * ```ts
 * const run = nativeProgram(rt, provider.kernels, program, id, layouts) ?? wasmProgram(...);
 * run(n, rows, outPtr, inPtr, inRowStrideBytes);
 * ```
 */
export function nativeProgram(rt: FastRuntime, kernels: NativeKernels, program: ElementwiseProgram, id: number, layouts: readonly InputLayout[]): WasmProgram | null {
  if (kernels.program === undefined) return null;
  let byRuntime = runners.get(kernels);
  if (byRuntime === undefined) runners.set(kernels, (byRuntime = new WeakMap()));
  let byKey = byRuntime.get(rt);
  if (byKey === undefined) byRuntime.set(rt, (byKey = new Map()));
  const fused = rt.flavor === 'relaxed';
  const key = `${programModuleKey(id, layouts, false)}|${fused ? 'f' : 'u'}`;
  let runner = byKey.get(key);
  if (runner === undefined) {
    // decided once per structure: whether it pays, and whether the interpreter has its ops
    const code = nativeProgramPays(program) ? encodeProgram(program, layouts, fused) : null;
    runner = code === null ? null : makeRunner(rt, kernels, code, program, layouts.length);
    byKey.set(key, runner);
  }
  return runner;
}

function makeRunner(rt: FastRuntime, kernels: NativeKernels, code: Int32Array, program: ElementwiseProgram, inputs: number): WasmProgram {
  let args = new Float64Array(0);
  return (...values: number[]): void => {
    if (args.length !== values.length) args = new Float64Array(values.length);
    args.set(values);
    bindHeap(rt, kernels);
    if (kernels.program?.(code, args) !== true) {
      throw new HeedError('elementwise', `the native program interpreter refused a program it was given (${program.exprs.length} exprs, ${inputs} inputs): a bug in Heed's encoder, please report it.`);
    }
  };
}
