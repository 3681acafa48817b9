// SPDX-License-Identifier: MIT
// Finite-difference gradient checks, computed entirely on the backend under test in float32:
// central differences of loss(x) = sum(f(x) * U) with eps = 1e-2 (the actual float32 step
// fround(x+eps) - fround(x-eps) is used as the denominator) against `valueAndGrad`, and, for
// specs marked secondOrder, differences of g(x) = sum(grad(loss)(x) * V) against nested
// `grad`. All perturbed losses are stacked and read back once (one readback per check).
import { grad, noGrad, stack, tidy, valueAndGrad, type DType, type Tensor } from '@heed/core';
import { ensure, readHost, type HostTensor } from '../assert.js';
import { Rng, draw, numel, upload } from '../host.js';
import type { CaseContext, RunnableCase } from '../types.js';
import { FD_SPECS, type FdName, type FdSpec } from './finite-diff-specs.js';

const EPS = 1e-2;
const RTOL = 2e-2;
const ATOL = 2e-3;
const RTOL2 = 3e-2;
const ATOL2 = 5e-3;

function hostInputs(spec: FdSpec, rng: Rng): HostTensor[] {
  const prev: number[][] = [];
  return spec.inputs.map((inp) => {
    let h: HostTensor;
    if ('fixed' in inp) {
      h = { shape: inp.shape, dtype: inp.dtype, values: [...inp.fixed] };
    } else {
      const values = typeof inp.values === 'function' ? inp.values(rng, prev) : draw(rng, numel(inp.shape), inp.values);
      h = { shape: inp.shape, dtype: 'float32', values };
    }
    prev.push([...h.values]);
    return h;
  });
}

function diffIndices(spec: FdSpec): number[] {
  return spec.inputs.flatMap((inp, i) => ('fixed' in inp ? [] : [i]));
}

/** Host copies of `hosts` with element `j` of input `k` moved by `delta` (in float32). */
function perturb(hosts: readonly HostTensor[], k: number, j: number, delta: number): HostTensor[] {
  return hosts.map((h, i) => {
    if (i !== k) return h;
    const values = [...h.values];
    values[j] = Math.fround(values[j] + delta);
    return { ...h, values };
  });
}

function normalHost(rng: Rng, shape: readonly number[]): HostTensor {
  return { shape, dtype: 'float32', values: Array.from({ length: numel(shape) }, () => rng.normal()) };
}

async function readScalars(ts: Tensor[]): Promise<number[]> {
  if (ts.length === 0) return [];
  const all = noGrad(() => stack(ts));
  try {
    return (await readHost(all)).values as number[];
  } finally {
    all.dispose();
  }
}

function compare(label: string, numeric: number[], analytic: readonly number[], rtol: number, atol: number): void {
  const bad: string[] = [];
  numeric.forEach((n, i) => {
    const a = analytic[i];
    if (!(Math.abs(n - a) <= atol + rtol * Math.max(Math.abs(n), Math.abs(a)))) bad.push(`[${i}] numeric ${n.toPrecision(6)}, analytic ${a}`);
  });
  ensure(bad.length === 0, () => `${label}: ${bad.length} of ${numeric.length} gradient entries differ ` +
    `(rtol ${rtol}, atol ${atol}):\n  ${bad.slice(0, 8).join('\n  ')}`);
}

/**
 * Checks the first-order gradients of `spec` by central differences on `ctx.backend`.
 *
 * @example
 * ```ts
 * await checkFirstOrder('exp', FD_SPECS.exp, ctx);
 * ```
 */
export async function checkFirstOrder(name: string, spec: FdSpec, ctx: CaseContext): Promise<void> {
  const rng = new Rng(`finite-diff/${name}`);
  const hosts = hostInputs(spec, rng);
  const diff = diffIndices(spec);
  const upload_ = (hs: readonly HostTensor[]) => hs.map((h) => upload(h, ctx.backend));
  const probe = noGrad(() => tidy(() => spec.f(upload_(hosts))));
  const u = upload(normalHost(rng, probe.shape), ctx.backend);
  probe.dispose();
  const loss = (xs: readonly Tensor[]) => spec.f(xs).mul(u).sum();
  const owned: Tensor[] = [u];
  try {
    const xs = upload_(hosts);
    owned.push(...xs);
    const fn = (...fx: Tensor[]) => loss(xs.map((x, i) => (diff.includes(i) ? fx[diff.indexOf(i)] : x)));
    const { value, grads } = tidy(() => valueAndGrad(fn)(...diff.map((i) => xs[i])));
    owned.push(value, ...grads);
    const analytic = await Promise.all(grads.map((g) => readHost(g)));
    const losses: Tensor[] = [];
    const steps: number[] = [];
    noGrad(() => {
      for (const k of diff) {
        for (let j = 0; j < hosts[k].values.length; j++) {
          const v = hosts[k].values[j];
          steps.push(Math.fround(v + EPS) - Math.fround(v - EPS));
          losses.push(tidy(() => loss(upload_(perturb(hosts, k, j, EPS)))));
          losses.push(tidy(() => loss(upload_(perturb(hosts, k, j, -EPS)))));
        }
      }
    });
    owned.push(...losses);
    const values = await readScalars(losses);
    let pos = 0;
    diff.forEach((k, n) => {
      const numeric = hosts[k].values.map(() => {
        const d = (values[2 * pos] - values[2 * pos + 1]) / steps[pos];
        pos++;
        return d;
      });
      compare(`${spec.op}: d loss / d input ${k}`, numeric, analytic[n].values, RTOL, ATOL);
    });
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * Checks second-order gradients of `spec` (w.r.t. its first input) by central differences of
 * the first-order gradient.
 *
 * @example
 * ```ts
 * await checkSecondOrder('tanh', FD_SPECS.tanh, ctx);
 * ```
 */
export async function checkSecondOrder(name: string, spec: FdSpec, ctx: CaseContext): Promise<void> {
  const rng = new Rng(`second-order/${name}`);
  const hosts = hostInputs(spec, rng);
  ensure(diffIndices(spec).join() === '0', `${name}: second-order specs differentiate exactly their first input`);
  const consts = hosts.slice(1).map((h) => upload(h, ctx.backend));
  const probe = noGrad(() => tidy(() => spec.f([upload(hosts[0], ctx.backend), ...consts])));
  const u = upload(normalHost(rng, probe.shape), ctx.backend);
  probe.dispose();
  const v = upload(normalHost(rng, hosts[0].shape), ctx.backend);
  const owned: Tensor[] = [u, v, ...consts];
  try {
    const loss = (x: Tensor) => spec.f([x, ...consts]).mul(u).sum();
    const g = (x: Tensor) => grad(loss)(x).mul(v).sum();
    const x = upload(hosts[0], ctx.backend);
    owned.push(x);
    const analyticT = tidy(() => grad(g)(x));
    owned.push(analyticT);
    const analytic = await readHost(analyticT);
    const values: Tensor[] = [];
    const steps: number[] = [];
    for (let j = 0; j < hosts[0].values.length; j++) {
      const x0 = hosts[0].values[j];
      steps.push(Math.fround(x0 + EPS) - Math.fround(x0 - EPS));
      for (const d of [EPS, -EPS]) values.push(tidy(() => g(upload(perturb(hosts, 0, j, d)[0], ctx.backend))));
    }
    owned.push(...values);
    const read = await readScalars(values);
    const numeric = steps.map((h, j) => (read[2 * j] - read[2 * j + 1]) / h);
    compare(`${spec.op}: second derivative`, numeric, analytic.values, RTOL2, ATOL2);
  } finally {
    for (const t of owned) t.dispose();
  }
}

function dtypesOf(spec: FdSpec): DType[] {
  return [...new Set(spec.inputs.map((i) => ('fixed' in i ? i.dtype : 'float32')))];
}

/**
 * One first-order case per spec, and one second-order case per spec marked secondOrder.
 *
 * @example
 * ```ts
 * finiteDiffCases().find((c) => c.id === 'finite-diff/softmax');
 * ```
 */
export function finiteDiffCases(): RunnableCase[] {
  const entries = Object.entries(FD_SPECS) as [FdName, FdSpec][];
  const first: RunnableCase[] = entries.map(([name, spec]) => ({
    id: `finite-diff/${name}`, group: 'finite-diff', op: spec.op, dtypes: dtypesOf(spec), hasGradient: true,
    run: (ctx) => checkFirstOrder(name, spec, ctx),
  }));
  const second: RunnableCase[] = entries.filter(([, spec]) => spec.secondOrder).map(([name, spec]) => ({
    id: `second-order/${name}`, group: 'second-order', op: spec.op, dtypes: dtypesOf(spec), hasGradient: true,
    run: (ctx) => checkSecondOrder(name, spec, ctx),
  }));
  return [...first, ...second];
}
