// SPDX-License-Identifier: MIT
// Expanded (stride-0) views as inputs to every op family: each check runs an op once on
// `expand(x)` and once on a materialised copy holding the same values, then compares the
// outputs and the gradients (the expanded input's gradient must equal the materialised one
// summed over the broadcast dims). Fixtures cover contiguous values; this covers stride 0.
import {
  add, argmax, cast, concat, contiguous, exp, expand, gather, gelu, gt, indexSelect, layerNorm, logSoftmax, logsumexp,
  matmul, max, mean, permute, prod, reshape, scaledDotProductAttention, scatterAdd, slice, softmax, stack, sum, tensor,
  tidy, where, zeros, type Tensor,
} from '@heed/core';
import { cumprod, cumsum, diff, flip, maskedFill, repeat, roll, sort, topk, tril } from '@heed/core';
import { assertTensorClose, readHost, type HostTensor } from '../assert.js';
import { Rng, draw, numel, upload, type ValueKind } from '../host.js';
import type { CaseContext, RunnableCase } from '../types.js';

/** A constant input: deterministic values from `seed` (identical in both runs). */
function C(backend: string, shape: number[], seed: number, kind: ValueKind = { kind: 'uniform' }): Tensor {
  return tensor(draw(new Rng(seed), numel(shape), kind), { shape, backend });
}

function ints(backend: string, shape: number[], values: number[]): Tensor {
  return tensor(values, { shape, dtype: 'int32', backend });
}

interface ExpandedSpec {
  readonly small: number[];
  readonly full: number[];
  readonly kind?: ValueKind;
  readonly f: (x: Tensor, backend: string) => Tensor;
}

const SPECS: Readonly<Record<string, ExpandedSpec>> = {
  unary: { small: [1, 3], full: [4, 3], f: (x) => exp(x) },
  'binary-self': { small: [4, 1], full: [4, 3], f: (x) => x.mul(x) },
  'binary-broadcast': { small: [1, 3], full: [4, 3], f: (x, b) => add(x, C(b, [2, 4, 3], 1)) },
  compare: { small: [1, 3], full: [4, 3], f: (x, b) => gt(x, C(b, [4, 3], 2)) },
  where: { small: [4, 1], full: [4, 3], f: (x, b) => where(gt(C(b, [4, 3], 3), 0), x, C(b, [3], 4)) },
  cast: { small: [1, 3], full: [4, 3], f: (x) => cast(x.mul(4), 'int32') },
  'sum-axis0': { small: [1, 3], full: [4, 3], f: (x) => sum(x, { axis: 0 }) },
  'sum-all': { small: [4, 1], full: [4, 3], f: (x) => sum(x) },
  'mean-multi': { small: [2, 1, 3], full: [2, 4, 3], f: (x) => mean(x, { axis: [0, 1] }) },
  prod: { small: [4, 1], full: [4, 3], kind: { kind: 'positive' }, f: (x) => prod(x, { axis: 1 }) },
  'max-ties': { small: [1, 3], full: [4, 3], kind: { kind: 'distinct' }, f: (x) => max(x, { axis: 0 }) },
  argmax: { small: [1, 3], full: [4, 3], kind: { kind: 'distinct' }, f: (x) => argmax(x, 1) },
  logsumexp: { small: [3, 1], full: [3, 4], f: (x) => logsumexp(x, { axis: -1 }) },
  'softmax-last': { small: [1, 4], full: [3, 4], f: (x) => softmax(x, -1) },
  'softmax-axis0': { small: [1, 4], full: [3, 4], f: (x) => softmax(x, 0) },
  logSoftmax: { small: [3, 1], full: [3, 4], f: (x) => logSoftmax(x, -1) },
  gelu: { small: [1, 5], full: [2, 5], f: (x) => gelu(x) },
  layerNorm: { small: [1, 4], full: [3, 4], f: (x, b) => layerNorm(x, [4], C(b, [4], 5), C(b, [4], 6)) },
  'matmul-left': { small: [1, 3], full: [4, 3], f: (x, b) => matmul(x, C(b, [3, 2], 7)) },
  'matmul-right': { small: [3, 1], full: [3, 4], f: (x, b) => matmul(C(b, [2, 3], 8), x) },
  'matmul-batch': { small: [1, 3, 2], full: [5, 3, 2], f: (x, b) => matmul(x, C(b, [2, 2], 9)) },
  // attention heads permuted out of [B, T, H, D]: batch dims (B, H) that do not flatten into one
  // stride (rank-4 views on backends with capabilities.matmulBatchDims = 2, a copy elsewhere)
  'matmul-heads': { small: [2, 1, 3, 5], full: [2, 9, 3, 5], f: (x, b) => matmul(permute(x, [0, 2, 1, 3]), permute(C(b, [2, 9, 3, 5], 11), [0, 2, 3, 1])) },
  gather: { small: [1, 3], full: [4, 3], f: (x, b) => gather(x, 1, ints(b, [4, 2], [0, 2, 1, 1, 2, 0, 0, 0])) },
  indexSelect: { small: [1, 3], full: [4, 3], f: (x, b) => indexSelect(x, 0, ints(b, [3], [3, 0, 0])) },
  'scatterAdd-src': {
    small: [1, 3], full: [4, 3],
    f: (x, b) => scatterAdd(zeros([3, 3], { backend: b }), 0, ints(b, [4, 3], [0, 1, 2, 2, 1, 0, 0, 0, 0, 1, 1, 1]), x),
  },
  concat: { small: [1, 3], full: [2, 3], f: (x, b) => concat([x, C(b, [1, 3], 10)], 0) },
  stack: { small: [3, 1], full: [3, 2], f: (x, b) => stack([x, C(b, [3, 2], 11)], 1) },
  'reshape-copy': { small: [1, 3], full: [4, 3], f: (x) => reshape(x, [12]) },
  contiguous: { small: [4, 1], full: [4, 3], f: (x) => contiguous(x) },
  'permute-copy': { small: [1, 3, 2], full: [2, 3, 2], f: (x) => contiguous(permute(x, [2, 0, 1])) },
  slice: { small: [1, 3], full: [5, 3], f: (x) => slice(x, [[1, 5, 2], [1]]) },
  attention: {
    small: [1, 2, 3], full: [2, 2, 3],
    f: (q, b) => scaledDotProductAttention(q, C(b, [2, 4, 3], 12), C(b, [2, 4, 2], 13)),
  },
  'sort-ties': { small: [4, 1], full: [4, 5], f: (x) => sort(x, { descending: true }).values },
  'sort-axis0': { small: [1, 3], full: [4, 3], kind: { kind: 'distinct' }, f: (x) => sort(x, { axis: 0 }).values },
  topk: { small: [1, 6], full: [3, 6], kind: { kind: 'distinct' }, f: (x) => topk(x, 2).values },
  cumsum: { small: [1, 4], full: [3, 4], f: (x) => cumsum(x, 1) },
  cumprod: { small: [3, 1], full: [3, 4], kind: { kind: 'positive' }, f: (x) => cumprod(x, 1) },
  tril: { small: [1, 4], full: [3, 4], f: (x) => tril(x) },
  maskedFill: { small: [1, 3], full: [2, 3], f: (x, b) => maskedFill(x, gt(C(b, [2, 3], 14), 0), -1) },
  flip: { small: [3, 1], full: [3, 2], f: (x) => flip(x, [0, 1]) },
  roll: { small: [1, 4], full: [2, 4], f: (x) => roll(x, [1, 1], [0, 1]) },
  repeat: { small: [1, 3], full: [2, 3], f: (x) => repeat(x, [2, 2]) },
  diff: { small: [2, 1], full: [2, 4], f: (x) => diff(x, { axis: 0 }) },
};

const NON_DIFFERENTIABLE = new Set(['compare', 'cast', 'argmax']);

function broadcastHost(h: HostTensor, full: readonly number[]): HostTensor {
  const lead = full.length - h.shape.length;
  const values: number[] = [];
  const n = numel(full);
  for (let flat = 0; flat < n; flat++) {
    let f = flat;
    let src = 0;
    let stride = 1;
    for (let d = full.length - 1; d >= 0; d--) {
      const i = f % full[d];
      f = Math.floor(f / full[d]);
      const sd = d - lead;
      if (sd >= 0) {
        if (h.shape[sd] !== 1) src += i * stride;
        stride *= h.shape[sd];
      }
    }
    values.push(h.values[src]);
  }
  return { shape: full, dtype: h.dtype, values };
}

function reduceHost(h: HostTensor, small: readonly number[]): HostTensor {
  const out = new Array<number>(numel(small)).fill(0);
  const lead = h.shape.length - small.length;
  for (let flat = 0; flat < h.values.length; flat++) {
    let f = flat;
    let dst = 0;
    let stride = 1;
    for (let d = h.shape.length - 1; d >= 0; d--) {
      const i = f % h.shape[d];
      f = Math.floor(f / h.shape[d]);
      const sd = d - lead;
      if (sd >= 0) {
        if (small[sd] !== 1) dst += i * stride;
        stride *= small[sd];
      }
    }
    out[dst] += h.values[flat];
  }
  return { shape: small, dtype: h.dtype, values: out.map(Math.fround) };
}

async function runExpanded(name: string, spec: ExpandedSpec, ctx: CaseContext): Promise<void> {
  const rng = new Rng(`expanded/${name}`);
  const small: HostTensor = { shape: spec.small, dtype: 'float32', values: draw(rng, numel(spec.small), spec.kind ?? { kind: 'uniform' }) };
  const xs = upload(small, ctx.backend, true);
  const xm = upload(broadcastHost(small, spec.full), ctx.backend, true);
  const owned: Tensor[] = [xs, xm];
  try {
    const xe = expand(xs, spec.full);
    owned.push(xe);
    const ye = tidy(() => spec.f(xe, ctx.backend));
    const ym = tidy(() => spec.f(xm, ctx.backend));
    owned.push(ye, ym);
    const want = await readHost(ym);
    assertTensorClose(`${name}: output on the expanded view vs on a materialised copy`, await readHost(ye), want, ctx.tol.rtol, ctx.tol.atol);
    if (ye.dtype !== 'float32') return;
    const u = upload({ shape: want.shape, dtype: 'float32', values: want.values.map(() => rng.normal()) }, ctx.backend);
    owned.push(u);
    tidy(() => ye.mul(u).sum().backward());
    tidy(() => ym.mul(u).sum().backward());
    const gm = await readHost(xm.grad as Tensor);
    const gs = xs.grad ? await readHost(xs.grad) : { ...small, values: small.values.map(() => 0) };
    assertTensorClose(`${name}: gradient through the expanded view`, gs, reduceHost(gm, spec.small), ctx.tol.gradRtol, 10 * ctx.tol.atol);
  } finally {
    for (const t of owned) t.dispose();
  }
}

/**
 * One case per op family with a stride-0 (expanded) input.
 *
 * @example
 * ```ts
 * expandedCases()[0].id; // 'non-contiguous/expanded/unary'
 * ```
 */
export function expandedCases(): RunnableCase[] {
  return Object.entries(SPECS).map(([name, spec]) => ({
    id: `non-contiguous/expanded/${name}`,
    group: 'non-contiguous',
    op: name.split('-')[0],
    dtypes: NON_DIFFERENTIABLE.has(name) ? ['float32', name === 'compare' ? 'bool' : 'int32'] : ['float32'],
    hasGradient: !NON_DIFFERENTIABLE.has(name),
    run: (ctx) => runExpanded(name, spec, ctx),
  }));
}
