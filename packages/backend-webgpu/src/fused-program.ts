// SPDX-License-Identifier: MIT
// WebGPU's fused `elementwise` kernel: a program from core's lazy layer becomes ONE WGSL
// dispatch that reads each input once and writes only the outputs that escape (instead of one
// dispatch and one buffer per primitive). Invariants:
// - every step is the same WGSL helper the single-op kernel uses (wgsl.ts unaryWgsl/binaryWgsl,
//   convert), applied to stored values, so a program computes what its primitives would;
// - pipelines are cached by the generated source (the runtime's cache), which depends only on
//   the program's structure and the inputs' rank/contiguity, never on shapes or data;
// - constants are read from the metadata words, never inlined (no constant folding of x * 0);
// - a program needing more storage bindings or metadata words than the device / runtime
//   allow, or with no inputs, is declined (null): the lazy layer then runs it op by op.
import { type DataId, type DType, type ElementwiseExpr, type ElementwiseProgram, type StridedView } from '@heed/core';
import { ELEMS_PER_GROUP, mapMain } from './kernels.js';
import { metaWords, offsetsWgsl, planViews } from './layout.js';
import type { OpKit } from './fused-ops.js';
import { META_WORDS } from './runtime.js';
import { binaryWgsl, convert, MATH_WGSL, unaryWgsl, WGSL_TYPE } from './wgsl.js';

/** The 32-bit word a buffer of `dtype` stores for `value` (constants travel in the metadata, so the compiler cannot fold `x * 0`). */
function constantWord(value: number, dtype: DType): number {
  if (dtype === 'bool') return value !== 0 ? 1 : 0;
  if (dtype === 'int32') return (value | 0) >>> 0;
  return new Uint32Array(new Float32Array([value]).buffer)[0];
}

/** WGSL reading constant word `word` of the metadata as a `dtype` value. */
function constantLoad(word: number, dtype: DType): string {
  return dtype === 'bool' ? `md[${word}]` : `bitcast<${WGSL_TYPE[dtype]}>(md[${word}])`;
}

/** The WGSL source of `program` over inputs of the given dtypes, rank and contiguity; null when an op has no WGSL form. */
function generate(program: ElementwiseProgram, inputs: readonly DType[], rank: number, contiguous: readonly boolean[]): string | null {
  const { exprs, outputs } = program;
  let word = 2 + rank + inputs.length * (rank + 1); // the first word after metaWords(plan)
  const decls: string[] = [];
  const lines: string[] = [];
  const dtypeOf = (k: number): DType => exprs[k].dtype;
  for (let k = 0; k < exprs.length; k++) {
    const e: ElementwiseExpr = exprs[k];
    let v: string;
    switch (e.op) {
      case 'input': v = `in${e.input}[off${e.input}]`; break;
      case 'const': v = constantLoad(word++, e.dtype); break;
      case 'unary': {
        const u = unaryWgsl(e.fn, dtypeOf(e.x), e.dtype, `f${k}`);
        if (u === null) return null;
        decls.push(u.decl);
        v = u.call(`v${e.x}`);
        break;
      }
      case 'binary': {
        const b = binaryWgsl(e.fn, dtypeOf(e.a), dtypeOf(e.b), e.dtype, `f${k}`);
        decls.push(b.decl);
        v = b.call(`v${e.a}`, `v${e.b}`);
        break;
      }
      case 'where': v = `select(v${e.b}, v${e.a}, v${e.cond} != 0u)`; break;
      case 'cast': v = convert(`v${e.x}`, WGSL_TYPE[dtypeOf(e.x)], e.dtype); break;
    }
    lines.push(`let v${k}: ${WGSL_TYPE[e.dtype]} = ${v};`);
  }
  outputs.forEach((o, j) => lines.push(`out${j}[i] = v${o};`));
  const bind = ['@group(0) @binding(0) var<storage, read> md: array<u32>;'];
  outputs.forEach((o, j) => bind.push(`@group(0) @binding(${1 + j}) var<storage, read_write> out${j}: array<${WGSL_TYPE[dtypeOf(o)]}>;`));
  inputs.forEach((d, j) => bind.push(`@group(0) @binding(${1 + outputs.length + j}) var<storage, read> in${j}: array<${WGSL_TYPE[d]}>;`));
  return `${MATH_WGSL}\n${decls.join('\n')}\n${bind.join('\n')}
fn elem(i: u32) {\n  ${offsetsWgsl(rank, contiguous)}\n  ${lines.join('\n  ')}\n}\n${mapMain()}`;
}

/**
 * Runs a fused elementwise program as one dispatch: new buffers, one per output, or null to
 * decline (too many bindings for the device, no inputs, an op without a WGSL form).
 *
 * @example
 * ```ts
 * const outs = runProgram(backend, program, [x, a, b]) ?? runProgramByPrimitives(backend, program, [x, a, b]);
 * ```
 */
export function runProgram(kit: OpKit, program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] | null {
  const op = 'elementwise';
  const maxBindings = kit.runtime.device.limits.maxStorageBuffersPerShaderStage;
  if (inputs.length === 0 || 1 + inputs.length + program.outputs.length > maxBindings) return null;
  kit.views(op, ...inputs);
  const plan = planViews(op, inputs);
  const code = generate(program, inputs.map((v) => v.dtype), plan.shape.length, plan.contiguous);
  if (code === null) return null;
  const constants = program.exprs.flatMap((e) => (e.op === 'const' ? [constantWord(e.value, e.dtype)] : []));
  const meta = metaWords(plan, constants);
  if (meta.length > META_WORDS) return null;
  let size = 1;
  for (const d of program.shape) size *= d;
  const outs = program.outputs.map((o) => kit.alloc(size, program.exprs[o].dtype, op));
  try {
    if (size > 0) {
      const buffers = [...outs.map((o) => o.buffer), ...inputs.map((v) => kit.data(v.data, op).buffer)];
      kit.runtime.dispatch(op, code, buffers, meta, kit.runtime.grid(Math.ceil(plan.size / ELEMS_PER_GROUP), op), undefined, outs.length);
    }
  } catch (e) {
    for (const o of outs) kit.free(o);
    throw e;
  }
  return outs;
}
