// SPDX-License-Identifier: MIT
// Golden-fixture cases: every case of core.json runs once with contiguous inputs (forward
// values and gradients against PyTorch) and once more with the same logical inputs stored
// non-contiguously (transposed storage; odd positions of a padded buffer with offset 1 and
// poison in the gaps), so every op family also sees strided, offset views.
// Invariant: every tensor a case creates is disposed, also when an assertion fails.
import { tidy, type DType, type Tensor } from '@heed/core';
import { assertTensorClose, ensure, readHost, type HostTensor } from '../assert.js';
import { fixtureCases, type FixtureCase } from '../fixtures.js';
import { isFixtureOp, runFixtureOp, type FixtureOpName } from '../fixture-ops.js';
import { layoutApplies, storeWithLayout, upload, type Layout } from '../host.js';
import type { CaseContext, CaseGroup, RunnableCase } from '../types.js';

/** Which suite group a fixture group belongs to (the rest are 'fixtures'). */
const SUITE_GROUP: Readonly<Record<string, CaseGroup>> = {
  scalar: 'scalars', 'zero-size': 'zero-size', broadcast: 'broadcast', promotion: 'dtypes',
};

function dtypesOf(c: FixtureCase): DType[] {
  return [...new Set([...c.inputs, ...c.outputs].map((t) => t.dtype))];
}

function zerosLikeHost(h: HostTensor): HostTensor {
  return { shape: h.shape, dtype: h.dtype, values: new Array<number>(h.values.length).fill(0) };
}

/**
 * Runs one op of a fixture file other than core.json (its own op table), returning the outputs.
 *
 * @example
 * ```ts
 * const run: FixtureRunner = (op, [x, w]) => [conv2d(x, w)];
 * ```
 */
export type FixtureRunner = (op: string, inputs: readonly Tensor[], attrs: Readonly<Record<string, unknown>>, backend: string) => Tensor[] | Promise<Tensor[]>;

/**
 * Runs fixture case `c` on the context's backend with inputs stored in `layout`: checks the
 * outputs, then backpropagates sum_i(out_i * U_i) and checks every input gradient.
 *
 * @example
 * ```ts
 * await runFixtureCase(fixtureCases()[0], ctx, 'strided');
 * ```
 */
export async function runFixtureCase(c: FixtureCase, ctx: CaseContext, layout: Layout, runOp?: FixtureRunner): Promise<void> {
  const op = c.op;
  ensure(runOp !== undefined || isFixtureOp(op), `core.json names op '${op}', which FIXTURE_OPS does not know`);
  const rtol = Math.max(ctx.tol.rtol, c.tol?.rtol ?? 0);
  const atol = Math.max(ctx.tol.atol, c.tol?.atol ?? 0);
  const grads = c.grads;
  const stored = c.inputs.map((h, i) => storeWithLayout(h, layout, ctx.backend, grads !== null && grads[i] !== null));
  const owned: Tensor[] = stored.map((s) => s.base);
  try {
    const inputs = stored.map((s) => {
      const v = s.view(s.base);
      if (v !== s.base) owned.push(v);
      return v;
    });
    const outs = await (runOp ? runOp(op, inputs, c.attrs, ctx.backend) : runFixtureOp(op as FixtureOpName, inputs, c.attrs, ctx.backend));
    owned.push(...outs);
    ensure(outs.length === c.outputs.length, () => `${op} returned ${outs.length} outputs, want ${c.outputs.length}`);
    for (let i = 0; i < outs.length; i++) {
      assertTensorClose(`${op} output ${i} [${layout} inputs]`, await readHost(outs[i]), c.outputs[i], rtol, atol);
    }
    if (grads === null || c.upstream === null) return;
    const upstream = c.upstream;
    const loss = tidy(() => {
      let acc: Tensor | null = null;
      outs.forEach((o, i) => {
        const u = upstream[i];
        if (!u) return;
        const term = o.mul(upload(u, ctx.backend)).sum();
        acc = acc ? acc.add(term) : term;
      });
      return acc as Tensor | null;
    });
    ensure(loss !== null, 'the fixture has gradients but no float output');
    owned.push(loss);
    ensure(loss.requiresGrad, () => `${op}: the output does not require grad although a float input does (no gradient was recorded)`);
    loss.backward();
    for (let i = 0; i < grads.length; i++) {
      const want = grads[i];
      if (!want) continue;
      const g = stored[i].base.grad;
      const got = g ? stored[i].view(g) : null;
      if (got && got !== g) owned.push(got);
      const host = got ? await readHost(got) : zerosLikeHost(want);
      assertTensorClose(`${op} gradient of input ${i} [${layout} inputs]`, host, want, Math.max(ctx.tol.gradRtol, rtol), Math.max(10 * ctx.tol.atol, atol));
    }
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * One case per fixture (forward + gradients, contiguous inputs), grouped by suite group.
 *
 * @example
 * ```ts
 * fixtureRunnableCases().map((c) => c.id); // ['fixtures/unary/neg', ...]
 * ```
 */
export function fixtureRunnableCases(): RunnableCase[] {
  return fixtureCases().map((c) => ({
    id: `fixtures/${c.id}`,
    group: SUITE_GROUP[c.group] ?? 'fixtures',
    op: c.op,
    dtypes: dtypesOf(c),
    hasGradient: c.grads !== null,
    run: (ctx) => runFixtureCase(c, ctx, 'contiguous'),
  }));
}

/**
 * One case per fixture whose inputs can be stored non-contiguously: strided layout always,
 * transposed layout when an input has rank >= 2.
 *
 * @example
 * ```ts
 * nonContiguousFixtureCases()[0].id; // 'non-contiguous/unary/neg'
 * ```
 */
export function nonContiguousFixtureCases(): RunnableCase[] {
  return fixtureCases()
    .filter((c) => c.inputs.some((h) => layoutApplies('strided', h.shape)))
    .map((c) => ({
      id: `non-contiguous/${c.id}`,
      group: 'non-contiguous' as const,
      op: c.op,
      dtypes: dtypesOf(c),
      hasGradient: c.grads !== null,
      run: async (ctx: CaseContext) => {
        await runFixtureCase(c, ctx, 'strided');
        if (c.inputs.some((h) => layoutApplies('transposed', h.shape))) await runFixtureCase(c, ctx, 'transposed');
      },
    }));
}
