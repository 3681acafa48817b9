// SPDX-License-Identifier: MIT
// The 'special-values' group: every case of fixtures/special.json (generated from PyTorch by
// scripts/fixtures/gen_special_fixtures.py) feeds an op +-0, +-inf, NaN, subnormal and huge
// float32 values and checks the outputs and, where the fixture has them, the gradients of
// sum(out * U). Composites the backend fuses run twice: with the fused kernel and on the same
// instance without fused kernels (core's decomposition over primitives), so both paths return
// PyTorch's values. Outputs are compared with the suite's rtol and an absolute tolerance of the
// smallest normal float32 (so a subnormal result may be flushed to zero, but a subnormal input
// may not turn log(x) into -inf); where the fixture says `signedZeros`, every zero output must
// also have PyTorch's sign. The only allowed deviations are SPECIAL_VALUE_EXCEPTIONS (cases a
// backend may answer as if subnormal inputs were zeros: checked against that answer instead).
// Invariant: every tensor a case creates is disposed, also when an assertion fails.
import { tidy, type Backend, type DType, type FusedKernels, type Tensor } from '@heed/core';
import { closeTo, ensure, readHost, unravel, type HostTensor } from '../assert.js';
import { readFixtureFile, type FixtureCase } from '../fixtures.js';
import { isFixtureOp, runFixtureOp } from '../fixture-ops.js';
import { upload } from '../host.js';
import type { CaseContext, RunnableCase } from '../types.js';
import { SPECIAL_VALUE_EXCEPTIONS } from './special-exceptions.js';

/** Smallest normal float32: the absolute tolerance of forward values in this group. */
const FLT_MIN = 2 ** -126;

/** The fused kernel that computes each composite fixture op (the others have none). */
const FUSED_OF: Readonly<Record<string, keyof FusedKernels>> = {
  softmax: 'softmax', logSoftmax: 'logSoftmax', gelu: 'gelu', layerNorm: 'layerNorm', scaledDotProductAttention: 'attention',
};

/** Whether SPECIAL_VALUE_EXCEPTIONS let `backend` answer case `id` as if subnormal inputs were zeros. */
function allowsFlushed(id: string, backend: Backend): boolean {
  return (SPECIAL_VALUE_EXCEPTIONS[id] ?? []).some((e) => e.allow === 'flushed-subnormals' && e.backends.includes(backend.name));
}

const show = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

/** The input values at output element `i` of an elementwise case (empty for other ops). */
function inputsAt(c: FixtureCase, i: number, shape: readonly number[]): string {
  const idx = unravel(i, shape);
  const parts: string[] = [];
  for (const h of c.inputs) {
    if (h.shape.length > shape.length) return '';
    const pad = shape.length - h.shape.length;
    let flat = 0;
    for (let d = 0; d < h.shape.length; d++) {
      const n = h.shape[d];
      if (n !== 1 && n !== shape[d + pad]) return '';
      flat = flat * n + (n === 1 ? 0 : idx[d + pad]);
    }
    parts.push(show(h.values[flat]));
  }
  return ` at inputs (${parts.join(', ')})`;
}

function matches(g: number, w: number, exact: boolean, tol: { rtol: number; atol: number }, signed: boolean): boolean {
  if (exact) return g === w;
  if (!closeTo(g, w, tol.rtol, tol.atol)) return false;
  return !(signed && w === 0 && g === 0) || Object.is(g, w);
}

/**
 * Compares one tensor: values within (rtol, atol) (NaN = NaN, infinities exact), the sign of
 * zeros when `signed`; an element may instead match `alt` (the flushed-subnormal answer) when
 * given. Throws a ConformanceError listing up to 8 mismatches with the inputs behind them.
 */
function check(label: string, c: FixtureCase, got: HostTensor, want: HostTensor, alt: HostTensor | null,
  tol: { rtol: number; atol: number }, signed: boolean): void {
  ensure(got.shape.join() === want.shape.join(), () => `${label}: shape [${got.shape}], want [${want.shape}]`);
  ensure(got.dtype === want.dtype, () => `${label}: dtype ${got.dtype}, want ${want.dtype}`);
  const exact = want.dtype !== 'float32';
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < want.values.length; i++) {
    const g = got.values[i];
    const w = want.values[i];
    if (matches(g, w, exact, tol, signed) || (alt !== null && matches(g, alt.values[i], exact, tol, signed))) continue;
    count++;
    const also = alt !== null ? ` (or ${show(alt.values[i])} with subnormal inputs flushed)` : '';
    if (bad.length < 8) bad.push(`[${unravel(i, want.shape).join(', ')}]${inputsAt(c, i, want.shape)}: got ${show(g)}, want ${show(w)}${also}`);
  }
  ensure(count === 0, () => `${label}: ${count} of ${want.values.length} values differ from PyTorch ` +
    `(rtol ${tol.rtol}, atol ${tol.atol}${signed ? ', sign of zero checked' : ''}):\n  ${bad.join('\n  ')}`);
}

/** Runs case `c` on registered backend `backend`; `tag` names the path in messages. */
async function runOn(c: FixtureCase, ctx: CaseContext, backend: string, tag: string): Promise<void> {
  const op = c.op;
  ensure(isFixtureOp(op), `special.json names op '${op}', which FIXTURE_OPS does not know`);
  const grads = c.grads;
  const upstream = c.upstream;
  const inputs = c.inputs.map((h, i) => upload(h, backend, grads !== null && grads[i] !== null));
  const owned: Tensor[] = [...inputs];
  const fwd = { rtol: ctx.tol.rtol, atol: FLT_MIN };
  const flushed = allowsFlushed(`special-values/${c.id}`, ctx.instance) ? c.flushed : null;
  const bwd = { rtol: ctx.tol.gradRtol, atol: 10 * ctx.tol.atol };
  try {
    const outs = runFixtureOp(op, inputs, c.attrs, backend);
    owned.push(...outs);
    ensure(outs.length === c.outputs.length, () => `${op} returned ${outs.length} outputs, want ${c.outputs.length}`);
    for (let i = 0; i < outs.length; i++) {
      check(`${op} output ${i} ${tag}`, c, await readHost(outs[i]), c.outputs[i], flushed?.outputs[i] ?? null, fwd, c.signedZeros);
    }
    if (grads === null || upstream === null) return;
    const loss = tidy(() => {
      let acc: Tensor | null = null;
      outs.forEach((o, i) => {
        const u = upstream[i];
        if (!u) return;
        const term = o.mul(upload(u, backend)).sum();
        acc = acc ? acc.add(term) : term;
      });
      return acc as Tensor | null;
    });
    ensure(loss !== null, 'the fixture has gradients but no float output');
    owned.push(loss);
    loss.backward();
    for (let i = 0; i < grads.length; i++) {
      const want = grads[i];
      if (!want) continue;
      const g = inputs[i].grad;
      const host = g ? await readHost(g) : { ...want, values: want.values.map(() => 0) };
      check(`${op} gradient of input ${i} ${tag}`, c, host, want, flushed?.grads?.[i] ?? null, bwd, false);
    }
  } finally {
    for (const t of owned) t.dispose();
  }
}

let cached: readonly FixtureCase[] | null = null;

/**
 * The cases of fixtures/special.json (loaded once).
 *
 * @example
 * ```ts
 * specialFixtureCases().filter((c) => c.op === 'atan2').map((c) => c.id);
 * ```
 */
export function specialFixtureCases(): readonly FixtureCase[] {
  if (!cached) cached = readFixtureFile('special.json');
  return cached;
}

function dtypesOf(c: FixtureCase): DType[] {
  return [...new Set([...c.inputs, ...c.outputs].map((t) => t.dtype))];
}

/**
 * One case per special-value fixture: on the backend, and again without fused kernels when the
 * backend fuses the op.
 *
 * @example
 * ```ts
 * specialValueCases().map((c) => c.id); // ['special-values/unary/neg', ...]
 * ```
 */
export function specialValueCases(): RunnableCase[] {
  const fixtures = specialFixtureCases();
    for (const key of Object.keys(SPECIAL_VALUE_EXCEPTIONS)) {
    const c = fixtures.find((f) => `special-values/${f.id}` === key);
    if (!c) throw new Error(`SPECIAL_VALUE_EXCEPTIONS['${key}'] matches no case of special.json`);
    if (!c.flushed) throw new Error(`SPECIAL_VALUE_EXCEPTIONS['${key}'] allows flushed subnormals, but the case has no subnormal input`);
  }
  return fixtures.map((c) => ({
    id: `special-values/${c.id}`,
    group: 'special-values' as const,
    op: c.op,
    dtypes: dtypesOf(c),
    hasGradient: c.grads !== null,
    run: async (ctx: CaseContext) => {
      await runOn(c, ctx, ctx.backend, '[backend]');
      const fused = FUSED_OF[c.op];
      if (fused && typeof ctx.instance[fused] === 'function') await runOn(c, ctx, ctx.fallback, '[without fused kernels]');
    },
  }));
}
