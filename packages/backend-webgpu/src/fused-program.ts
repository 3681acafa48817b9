// SPDX-License-Identifier: MIT
// WebGPU's fused `elementwise` kernel: a program from core's lazy layer becomes ONE WGSL
// dispatch that reads each input once and writes only the outputs that escape (instead of one
// dispatch and one buffer per primitive). Invariants:
// - every step is the same WGSL helper the single-op kernel uses (wgsl.ts unaryWgsl/binaryWgsl,
//   convert), applied to stored values, so a program computes what its primitives would;
// - pipelines are cached by the generated source (the runtime's cache), which depends only on
//   the program's structure and the inputs' rank/contiguity, never on shapes or data;
// - constants are read from the metadata words, never inlined (no constant folding of x * 0);
// - a program with reductions (reduceAxes > 0) runs one invocation per short row, one
//   workgroup per long row: per pass (core's programLevels) each invocation folds a (strided
//   share of the) row's inner elements, then a shared-memory tree combines the shares (f32: close to, not bitwise equal to, the CPU's
//   double accumulation) and every invocation reads the row value; barriers stay in uniform
//   control flow (the row index is the workgroup's);
// - a program needing more storage bindings or metadata words than the device / runtime
//   allow, or with no inputs, is declined (null): the lazy layer then runs it op by op.
import { programLevels, programSweeps, type DataId, type DType, type ElementwiseExpr, type ElementwiseProgram, type StridedView } from '@heed/core';
import { ELEMS_PER_GROUP, mapMain, WG } from './kernels.js';
import { metaWords, offsetsWgsl, planViews } from './layout.js';
import type { OpKit } from './fused-ops.js';
import { META_WORDS } from './runtime.js';
import { binaryWgsl, convert, MATH_WGSL, unaryWgsl, WGSL_TYPE } from './wgsl.js';

/**
 * The 32-bit word a buffer of `dtype` stores for `value` (constants travel in the metadata, so the compiler cannot fold `x * 0`).
 *
 * @example
 * ```ts
 * constantWord(1, 'float32'); // 0x3f800000
 * ```
 */
export function constantWord(value: number, dtype: DType): number {
  if (dtype === 'bool') return value !== 0 ? 1 : 0;
  if (dtype === 'int32') return (value | 0) >>> 0;
  return new Uint32Array(new Float32Array([value]).buffer)[0];
}

/** WGSL reading constant word `word` of the u32 array `words` (the metadata) as a `dtype` value. */
function constantLoad(word: number, dtype: DType, words: string): string {
  return dtype === 'bool' ? `${words}[${word}]` : `bitcast<${WGSL_TYPE[dtype]}>(${words}[${word}])`;
}

/**
 * WGSL of expr `k` reading earlier exprs as `v<i>` (input `j` as `in<j>[off<j>]`, reductions as
 * `a<k>`: the caller declares them); helper functions go to `decls`, and each constant takes the
 * next word from `word()` of the u32 array `words` (the metadata `md` by default). Null when an
 * op has no WGSL form. The one expression emitter
 * of the fused programs (also the matmul epilogue's, matmul-program.ts).
 *
 * @example
 * ```ts
 * let w = 10; const decls: string[] = [];
 * exprWgsl(program.exprs, 2, () => w++, decls); // e.g. 'fx2(v0, v1)'
 * ```
 */
export function exprWgsl(exprs: ElementwiseProgram['exprs'], k: number, word: () => number, decls: string[], words = 'md'): string | null {
  const e: ElementwiseExpr = exprs[k];
  const dtypeOf = (x: number): DType => exprs[x].dtype;
  switch (e.op) {
    case 'input': case 'rowInput': return `in${e.input}[off${e.input}]`;
    case 'reduce': return `a${k}`;
    case 'const': return constantLoad(word(), e.dtype, words);
    case 'unary': {
      const u = unaryWgsl(e.fn, dtypeOf(e.x), e.dtype, `fx${k}`);
      if (u === null) return null;
      decls.push(u.decl);
      return u.call(`v${e.x}`);
    }
    case 'binary': {
      const b = binaryWgsl(e.fn, dtypeOf(e.a), dtypeOf(e.b), e.dtype, `fx${k}`);
      decls.push(b.decl);
      return b.call(`v${e.a}`, `v${e.b}`);
    }
    case 'where': return `select(v${e.b}, v${e.a}, v${e.cond} != 0u)`;
    case 'cast': return convert(`v${e.x}`, WGSL_TYPE[dtypeOf(e.x)], e.dtype);
  }
}

function bindingsWgsl(program: ElementwiseProgram, inputs: readonly DType[]): string {
  const bind = ['@group(0) @binding(0) var<storage, read> md: array<u32>;'];
  program.outputs.forEach((o, j) => bind.push(`@group(0) @binding(${1 + j}) var<storage, read_write> out${j}: array<${WGSL_TYPE[program.exprs[o].dtype]}>;`));
  inputs.forEach((d, j) => bind.push(`@group(0) @binding(${1 + program.outputs.length + j}) var<storage, read> in${j}: array<${WGSL_TYPE[d]}>;`));
  return bind.join('\n');
}

/** The WGSL source of `program` over inputs of the given dtypes, rank and contiguity; null when an op has no WGSL form. */
function generate(program: ElementwiseProgram, inputs: readonly DType[], rank: number, contiguous: readonly boolean[]): string | null {
  const { exprs, outputs } = program;
  let word = 2 + rank + inputs.length * (rank + 1); // the first word after metaWords(plan)
  const decls: string[] = [];
  const lines: string[] = [];
  for (let k = 0; k < exprs.length; k++) {
    const v = exprWgsl(exprs, k, () => word++, decls);
    if (v === null) return null;
    lines.push(`let v${k}: ${WGSL_TYPE[exprs[k].dtype]} = ${v};`);
  }
  outputs.forEach((o, j) => lines.push(`out${j}[i] = v${o};`));
  return `${MATH_WGSL}\n${decls.join('\n')}\n${bindingsWgsl(program, inputs)}
fn elem(i: u32) {\n  ${offsetsWgsl(rank, contiguous)}\n  ${lines.join('\n  ')}\n}\n${mapMain()}`;
}

/** Rows longer than this are folded by a workgroup each (shared-memory tree), shorter ones by one invocation each. */
const SHARED_ROWS_FROM = 1024;

const FOLD_INIT = { sum: '0.0', prod: '1.0', max: '-infF()', min: 'infF()' } as const;
const FOLD_STEP = {
  sum: (a: string, x: string) => `${a} = ${a} + ${x};`,
  prod: (a: string, x: string) => `${a} = ${a} * ${x};`,
  max: (a: string, x: string) => `if (isNan(${x}) || isNan(${a})) { ${a} = nanF(); } else { ${a} = max(${a}, ${x}); }`,
  min: (a: string, x: string) => `if (isNan(${x}) || isNan(${a})) { ${a} = nanF(); } else { ${a} = min(${a}, ${x}); }`,
} as const;

/**
 * The WGSL of a program with reductions: row r runs in workgroup r (`shared`) or in one
 * invocation, `elem(r)` under mapMain (every input is a view of the program's shape here, row inputs broadcast over the inner dims, so the same offsets apply);
 * md[0] is the row count, md word `innerWord` the row length. Null when an op has no WGSL form
 * or a reduction is not float32.
 */
function generateRows(program: ElementwiseProgram, inputs: readonly DType[], rank: number, contiguous: readonly boolean[], shared: boolean): string | null {
  const { exprs, outputs } = program;
  const levels = programLevels(program);
  const { row, pass, passes } = levels;
  const sweeps = programSweeps(program, levels);
  if (exprs.some((e) => e.op === 'reduce' && e.dtype !== 'float32')) return null;
  const innerWord = 2 + rank + inputs.length * (rank + 1);
  let word = innerWord + 1;
  const decls: string[] = [];
  const lines: string[] = ['let inner = md[' + innerWord + '];', 'let i = r * inner;', offsetsWgsl(rank, contiguous)];
  const combined: string[] = []; // per fold: share -> tree -> row value
  const values: string[] = []; // WGSL per expr, computed up front (constants take their words in order)
  for (let k = 0; k < exprs.length; k++) {
    const v = exprWgsl(exprs, k, () => word++, decls);
    if (v === null) return null;
    values.push(v);
  }
  const T = (k: number): string => WGSL_TYPE[exprs[k].dtype];
  for (let p = 0; p <= passes; p++) {
    exprs.forEach((e, k) => { if (row[k] && pass[k] === p) lines.push(`let v${k}: ${T(k)} = ${values[k]};`); });
    if (p === passes) break;
    const sweep = sweeps[p];
    if (sweep === null) continue;
    const { folds, writes, need } = sweep;
    for (const f of folds) lines.push(`var a${f}: f32 = ${FOLD_INIT[(exprs[f] as { fn: keyof typeof FOLD_INIT }).fn]};`);
    combined.length = 0;
    for (const f of shared ? folds : []) {
      const step = FOLD_STEP[(exprs[f] as { fn: keyof typeof FOLD_STEP }).fn];
      combined.push(`part[lid] = a${f};\n  workgroupBarrier();`,
        `for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {\n    if (lid < s) { var q = part[lid]; let o = part[lid + s]; ${step('q', 'o')} part[lid] = q; }\n    workgroupBarrier();\n  }`,
        `a${f} = part[0];\n  workgroupBarrier();`);
    }
    const body: string[] = [];
    for (const x of need) body.push(`let v${x}: ${T(x)} = ${values[x]};`);
    for (const f of folds) { const e = exprs[f] as { fn: keyof typeof FOLD_STEP; x: number }; body.push(FOLD_STEP[e.fn](`a${f}`, `v${e.x}`)); }
    for (const w of writes) body.push(`out${w}[i] = v${outputs[w]};`);
    lines.push(`for (var t = ${shared ? 'lid' : '0u'}; t < inner; t = t + ${shared ? WG : 1}u) {\n    let i = r * inner + t;\n    ${offsetsWgsl(rank, contiguous)}\n    ${body.join('\n    ')}\n  }`, ...combined);
  }
  const rowWrites = outputs.flatMap((o, j) => (row[o] ? [`out${j}[r] = v${o};`] : []));
  if (!shared) {
    lines.push(...rowWrites);
    return `${MATH_WGSL}\n${decls.join('\n')}\n${bindingsWgsl(program, inputs)}\nfn elem(r: u32) {\n  ${lines.join('\n  ')}\n}\n${mapMain()}`;
  }
  if (rowWrites.length > 0) lines.push(`if (lid == 0u) {\n    ${rowWrites.join('\n    ')}\n  }`);
  return `${MATH_WGSL}\n${decls.join('\n')}\n${bindingsWgsl(program, inputs)}
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x + wg.y * nwg.x;
  if (r >= md[0]) { return; }
  ${lines.join('\n  ')}
}\n`;
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
  const folds = (program.reduceAxes ?? 0) > 0;
  const levels = folds ? programLevels(program) : null;
  // row inputs read as views of the program's shape, broadcast over the inner dims
  const rowInput = new Set(program.exprs.flatMap((e) => (e.op === 'rowInput' ? [e.input] : [])));
  const k = program.shape.length - (levels?.rowShape.length ?? program.shape.length);
  const views = inputs.map((v, j) => (rowInput.has(j) ? { ...v, shape: program.shape, strides: [...v.strides, ...new Array<number>(k).fill(0)] } : v));
  const plan = planViews(op, views);
  const dtypes = inputs.map((v) => v.dtype);
  // short rows: one invocation per row (no barriers: they are costly on SwiftShader); long rows: a workgroup per row
  const shared = levels !== null && levels.inner > SHARED_ROWS_FROM;
  const code = folds ? generateRows(program, dtypes, plan.shape.length, plan.contiguous, shared) : generate(program, dtypes, plan.shape.length, plan.contiguous);
  if (code === null) return null;
  const constants = program.exprs.flatMap((e) => (e.op === 'const' ? [constantWord(e.value, e.dtype)] : []));
  const meta = metaWords(plan, levels !== null ? [levels.inner, ...constants] : constants);
  if (meta.length > META_WORDS) return null;
  let size = 1;
  for (const d of program.shape) size *= d;
  if (levels !== null) { let r = 1; for (const d of levels.rowShape) r *= d; meta[0] = r; } // mapMain's n: one invocation per row
  const outs = program.outputs.map((o) => kit.alloc(levels !== null && levels.row[o] ? (meta[0] as number) : size, program.exprs[o].dtype, op));
  try {
    const work = levels === null ? plan.size : meta[0];
    if (work > 0) {
      const buffers = [...outs.map((o) => o.buffer), ...inputs.map((v) => kit.data(v.data, op).buffer)];
      const groups = shared ? work : Math.ceil(work / ELEMS_PER_GROUP); // a workgroup per row, or 4 rows per invocation
      kit.runtime.dispatch(op, code, buffers, meta, kit.runtime.grid(groups, op), undefined, outs.length);
    }
  } catch (e) {
    for (const o of outs) kit.free(o);
    throw e;
  }
  return outs;
}
