// SPDX-License-Identifier: MIT
// Rematerialization under lazy execution (core's schedule.ts `recomputable`): intermediates
// that autograd keeps for a backward (core's `savedForBackward` hint) are not written out by
// the forward's program; the backward's program recomputes them from the same inputs. Checked
// on the reference CPU kernels: the values and gradients are bitwise eager's, the forward
// GELU program writes its result and few intermediates instead of every saved one, and an
// alive buffer autograd does not keep (an optimizer's new state) is still written out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as heed from '@heed/core';
import { LazyBackend, type Backend, type ElementwiseProgram, type StridedView, type Tensor } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { randomArray } from './util.js';

/** Outputs of every program the inner backend ran. */
const programs: { outputs: number }[] = [];

/** CPU reference backend `b` named `name`; with `record`, each `elementwise` / `matmulElementwise` program is recorded. */
function variant(b: CpuBackend, name: string, record: boolean): Backend {
  return new Proxy(b, {
    get(target, key) {
      if (key === 'name') return name;
      const v: unknown = Reflect.get(target, key);
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      if (!record) return fn;
      if (key === 'elementwise') return (p: ElementwiseProgram, ins: readonly StridedView[]) => { programs.push({ outputs: p.outputs.length }); return fn(p, ins); };
      if (key === 'matmulElementwise') return (a: StridedView, m: StridedView, p: ElementwiseProgram, ins: readonly (StridedView | null)[]) => { programs.push({ outputs: p.outputs.length }); return fn(a, m, p, ins); };
      return fn;
    },
  });
}

beforeAll(() => {
  heed.registerBackend({ name: 'remat-eager', priority: -10, create: () => variant(new CpuBackend({ fast: false }), 'remat-eager', false) });
  heed.registerBackend({ name: 'remat-lazy', priority: -10, create: () => new LazyBackend(variant(new CpuBackend({ fast: false }), 'remat-inner', true), { name: 'remat-lazy' }) });
});
afterAll(() => {
  for (const n of ['remat-eager', 'remat-lazy']) heed.removeBackend(n);
});

const values = (n: number, seed: number): number[] => Array.from(randomArray(n, seed));

/** tanh-GELU from primitives between two matmuls (the spec layer's FFN), its loss and gradients. */
async function ffn(backend: string) {
  const x = heed.tensor(values(16 * 8, 1), { shape: [16, 8], backend });
  const w1 = heed.tensor(values(8 * 32, 2), { shape: [8, 32], backend });
  const w2 = heed.tensor(values(32 * 8, 3), { shape: [32, 8], backend });
  const f = (a: Tensor, b: Tensor, c: Tensor): Tensor => {
    const h = a.matmul(b);
    const inner = h.add(h.mul(h).mul(h).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return h.mul(0.5).mul(inner.tanh().add(1)).matmul(c).square().sum();
  };
  const { value, grads } = heed.valueAndGrad(f)(x, w1, w2);
  const out = [Array.from(await value.data()), ...(await Promise.all(grads.map(async (g) => Array.from(await g.data()))))];
  for (const t of [x, w1, w2, value, ...grads]) t.dispose();
  return out;
}

describe('lazy execution: rematerialization of saved intermediates', () => {
  it('gives eager\'s values and gradients bit for bit while the GELU program writes few of its intermediates', async () => {
    const eager = await ffn('remat-eager');
    programs.length = 0;
    const lazy = await ffn('remat-lazy');
    expect(lazy).toEqual(eager);
    // the forward GELU chain has 9 intermediates autograd keeps; written out as outputs of one
    // program they would be 10 outputs. Recomputed in the backward: at most 3 per program.
    expect(programs.length).toBeGreaterThan(0);
    expect(Math.max(...programs.map((p) => p.outputs))).toBeLessThanOrEqual(3);
  });

  it('still writes out an alive buffer autograd does not keep (an update computed beside the one needed)', async () => {
    const p = heed.tensor(values(24, 7), { shape: [4, 6], backend: 'remat-lazy' });
    const g = heed.tensor(values(24, 8), { shape: [4, 6], backend: 'remat-lazy' });
    programs.length = 0;
    const m = heed.noGrad(() => g.mul(0.1));
    const next = heed.noGrad(() => p.sub(m.mul(0.5)));
    const got = Array.from(await next.data());
    const ms = Array.from(await m.data());
    expect(programs.length).toBe(1); // one program wrote both: m was not left to recompute
    const gs = await g.data(), ps = await p.data();
    expect(ms).toEqual(Array.from(gs, (v) => Math.fround(v * Math.fround(0.1))));
    expect(got).toEqual(Array.from(ps, (v, i) => Math.fround(v - Math.fround(ms[i] * 0.5))));
    for (const t of [p, g, m, next]) t.dispose();
  });
});
