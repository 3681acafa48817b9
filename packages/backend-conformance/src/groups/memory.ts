// SPDX-License-Identifier: MIT
// Memory: for each op family, run forward and backward inside tidy (plus the reads, moves,
// random and autograd APIs), dispose the leaves, and require memory().numTensors,
// numBuffers and numBytes to return exactly to the baseline (core's checkLeaks catches
// growth; the exact comparison also catches double frees that would hide a leak).
// A measurement during which the GC safety net reclaimed something is retried once.
import {
  HeedError, Generator, abs, all, any, argmax, argmin, atan2, cast, ceil, checkLeaks, chunk, clamp, clone, concat, cos,
  customGrad, detach, div, dropout, eq, erf, exp, expand, expm1, flatten, floor, gather, gelu, grad, gt, indexSelect,
  isnan, layerNorm, linear, log, log1p, logicalAnd, logicalNot, logicalOr, logicalXor, logSoftmax, logsumexp, matmul, max,
  maximum, mean, memory, min, minimum, narrow, neg, noGrad, oneHot, permute, pow, prod, rand, randint, randn, reciprocal,
  relu, remainder, reshape, round, rsqrt, scaledDotProductAttention, attention, scatterAdd, select, sigmoid, sign, silu,
  sin, slice, softmax, split, sqrt, square, squeeze, stack, std, sub, sum, tanh, tensor, tidy, transpose, unsqueeze,
  valueAndGrad, variance, where, add, mul, type Tensor,
} from '@heed/core';
import { ensure } from '../assert.js';
import { Rng, draw, numel } from '../host.js';
import type { CaseContext, RunnableCase } from '../types.js';

/** Runs `fn` and requires every count of memory() to be back at its value before. */
async function expectNoLeaks(label: string, fn: () => unknown): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const before = memory();
    await checkLeaks(async () => { await fn(); }, label);
    const after = memory();
    if (after.reclaimedByGC !== before.reclaimedByGC && attempt === 0) continue;
    ensure(after.numTensors === before.numTensors && after.numBuffers === before.numBuffers && after.numBytes === before.numBytes,
      () => `${label}: memory() went from ${before.numTensors} tensors / ${before.numBuffers} buffers / ${before.numBytes} bytes ` +
        `to ${after.numTensors} / ${after.numBuffers} / ${after.numBytes}`);
    return;
  }
}

/** A leaf requiring grad with deterministic values (positive by default). */
function leaf(backend: string, shape: number[], seed: number, lo = 0.5, hi = 2): Tensor {
  return tensor(draw(new Rng(seed), numel(shape), { kind: 'uniform', lo, hi }), { shape, backend, requiresGrad: true });
}

/** Creates leaves, runs `body` in tidy (it returns a scalar loss to backpropagate), disposes all. */
function withBackward(leaves: Tensor[], body: () => Tensor): void {
  try {
    tidy(() => body().backward());
    ensure(leaves.some((l) => l.grad !== null), 'backward produced no gradient');
  } finally {
    for (const l of leaves) l.dispose();
  }
}

const total = (ts: Tensor[]): Tensor => ts.map((t) => (t.dtype === 'float32' ? t.sum() : t.float().sum())).reduce((a, b) => a.add(b));

const FAMILIES: Readonly<Record<string, (ctx: CaseContext) => void | Promise<void>>> = {
  unary: ({ backend }) => {
    const x = leaf(backend, [2, 3], 1);
    withBackward([x], () => {
      const fs = [neg, abs, sign, exp, expm1, log, log1p, sqrt, rsqrt, square, reciprocal, sin, cos, tanh, sigmoid, relu, erf, floor, ceil, round];
      logicalNot(isnan(x));
      return total(fs.map((f) => f(x)));
    });
  },
  binary: ({ backend }) => {
    const a = leaf(backend, [2, 3], 2);
    const b = leaf(backend, [3], 3);
    withBackward([a, b], () => {
      const fs = [add, sub, mul, div, pow, maximum, minimum, remainder, atan2];
      const ints = cast(a.mul(3), 'int32');
      const bools = logicalXor(logicalOr(logicalAnd(gt(a, 1), eq(b, 1)), gt(b, 1.5)), gt(a, b));
      total([ints.add(2), ints.div(2), bools.float(), add(ints, b), sub(2, a), a.mul(0.5)]);
      return total(fs.map((f) => f(a, b)));
    });
  },
  elementwise: ({ backend }) => {
    const a = leaf(backend, [2, 3], 4, -1, 1);
    const b = leaf(backend, [2, 1], 5);
    withBackward([a, b], () => total([where(gt(a, 0), a, b), where(gt(b, 1), 1, a), clamp(a, -0.5, 0.5), clone(a), cast(a, 'float32'), cast(a, 'bool').float()]));
  },
  reduce: ({ backend }) => {
    const x = leaf(backend, [2, 3, 4], 6);
    withBackward([x], () => {
      argmax(x); argmin(x, 1, true); any(x, { axis: 0 }); all(gt(x, 1), { axis: [1, 2] });
      return total([sum(x, { axis: 1 }), mean(x, { axis: [0, 2], keepdim: true }), prod(x, { axis: -1 }), max(x), min(x, { axis: 2 }),
        variance(x, { axis: 1 }), std(x, { axis: 0, correction: 0 }), logsumexp(x, { axis: -1 })]);
    });
  },
  views: ({ backend }) => {
    const x = leaf(backend, [2, 3, 4], 7);
    withBackward([x], () => total([reshape(x, [6, 4]), flatten(x, 1), permute(x, [2, 0, 1]), transpose(x, 0, 2), expand(unsqueeze(x, 0), [2, 2, 3, 4]),
      slice(x, [null, [0, 3, 2], [-2]]), narrow(x, 2, 1, 2), select(x, 1, -1), squeeze(unsqueeze(x, 1)), reshape(transpose(x), [24]), x.contiguous()]));
  },
  matmul: ({ backend }) => {
    const a = leaf(backend, [2, 3, 4], 8);
    const b = leaf(backend, [4, 5], 9);
    const v = leaf(backend, [4], 10);
    const bias = leaf(backend, [5], 11);
    withBackward([a, b, v, bias], () => total([matmul(a, b), matmul(a, v), matmul(v, b), matmul(v, v), matmul(transpose(a), a),
      linear(a, transpose(b), bias), linear(v, transpose(b))]));
  },
  join: ({ backend }) => {
    const a = leaf(backend, [2, 3], 12);
    const b = leaf(backend, [1, 3], 13);
    withBackward([a, b], () => total([concat([a, b], 0), concat([a, cast(b.mul(4), 'int32').expand([2, 3])], 1), stack([a, a], 1),
      ...split(a, 2, 1), ...split(a, [1, 1], 0), ...chunk(concat([a, b]), 2)]));
  },
  indexing: ({ backend }) => {
    const x = leaf(backend, [3, 4], 14);
    const s = leaf(backend, [2, 4], 15);
    const idx = tensor([[0, 2, 1, 0], [2, 2, 0, 1]], { dtype: 'int32', backend });
    try {
      withBackward([x, s], () => total([gather(x, 0, idx), indexSelect(x, 1, tensor([3, 3, 0], { dtype: 'int32', backend })),
        scatterAdd(x, 0, idx, s), oneHot(idx, 3)]));
    } finally {
      idx.dispose();
    }
  },
  composites: ({ backend }) => {
    const x = leaf(backend, [2, 3, 4], 16, -2, 2);
    const w = leaf(backend, [4], 17);
    const b = leaf(backend, [4], 18);
    withBackward([x, w, b], () => total([softmax(x), softmax(x, 0), logSoftmax(x, 1), gelu(x), gelu(x, 'tanh'), silu(x),
      layerNorm(x, [4], w, b), layerNorm(x, [3, 4]), dropout(x, 0.5, true, new Generator(1)), dropout(x, 0.5, false)]));
  },
  attention: ({ backend }) => {
    const q = leaf(backend, [1, 2, 3, 4], 19, -1, 1);
    const k = leaf(backend, [1, 2, 5, 4], 20, -1, 1);
    const v = leaf(backend, [1, 2, 5, 4], 21, -1, 1);
    const mask = tensor([1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], { shape: [3, 5], dtype: 'bool', backend });
    const additive = tensor(new Array<number>(15).fill(-0.5), { shape: [3, 5], backend });
    try {
      noGrad(() => tidy(() => { scaledDotProductAttention(q, k, v); scaledDotProductAttention(q, k, v, { attnMask: mask, isCausal: true }); }));
      withBackward([q, k, v], () => {
        const r = attention(q, k, v, { attnMask: mask, needWeights: true });
        return total([r.output, r.weights as Tensor, scaledDotProductAttention(q, k, v, { attnMask: additive }), scaledDotProductAttention(q, k, v, { isCausal: true }),
          scaledDotProductAttention(q, k, v, { dropoutP: 0.3, generator: new Generator(2) })]);
      });
    } finally {
      mask.dispose();
      additive.dispose();
    }
  },
  random: ({ backend }) => {
    tidy(() => { rand([5], { backend }); randn([2, 3], { backend, generator: new Generator(1) }); dropout(rand([8], { backend }), 0.5); });
    randint(0, 5, [7], { backend }).dispose();
  },
  reads: async ({ backend, instance }) => {
    const t = tensor([[1, 2, 3], [4, 5, 6]], { backend });
    const v = t.transpose();
    try {
      await t.data(); await v.data(); await v.array();
      const row = t.select(0, 1);
      const one = row.select(0, 2);
      row.dispose();
      ensure((await one.item()) === 6, 'item() of a selected element');
      one.dispose();
      if (instance.capabilities.syncRead) { t.dataSync(); v.dataSync(); }
    } finally {
      v.dispose();
      t.dispose();
    }
  },
  'autograd-api': ({ backend }) => {
    const x = tensor([0.5, 1, 1.5], { backend });
    const w = tensor([1, 2], { backend, requiresGrad: true });
    try {
      // grad/valueAndGrad/customGrad do not dispose what the user's function creates: tidy does.
      tidy(() => {
        valueAndGrad((a: Tensor) => a.exp().sum())(x);
        grad((a: Tensor) => grad((b: Tensor) => b.pow(3).sum())(a).sum())(x);
        const cube = customGrad((a: Tensor) => ({ value: a.mul(a).mul(a), backward: (dy: Tensor, s: Tensor[]) => [dy.mul(s[0].square()).mul(3)] }));
        grad((a: Tensor) => cube(a).sum())(x);
        const y = w.mul(w).exp();
        y.sum().backward({ retainGraph: true });
        y.backward(tensor([1, -1], { backend }));
        detach(y).add(1);
        noGrad(() => y.mul(2));
      });
    } finally {
      x.dispose();
      w.dispose();
    }
  },
  moves: async (ctx) => {
    const x = tensor([1, 2, 3], { backend: ctx.backend, requiresGrad: true });
    try {
      const moved = ctx.instance.capabilities.syncRead ? x.to(ctx.fallback) : await x.toAsync(ctx.fallback);
      const doubled = moved.mul(2);
      const back = ctx.instance.capabilities.syncRead ? doubled.to(ctx.backend) : await doubled.toAsync(ctx.backend);
      tidy(() => back.sum().backward());
      doubled.dispose();
      moved.dispose();
      back.dispose();
      ensure(x.grad !== null, 'the gradient did not flow back across the move');
    } finally {
      x.dispose();
    }
  },
  'errors-in-tidy': ({ backend }) => {
    try {
      tidy(() => { tensor([1, 2], { backend }).exp(); throw new HeedError('test', 'thrown inside tidy'); });
    } catch (e) {
      if (!(e instanceof HeedError)) throw e;
    }
    const cond = tensor([1, 0], { backend });
    try {
      where(cond, 1, 2);
    } catch (e) {
      if (!(e instanceof HeedError)) throw e;
    } finally {
      cond.dispose();
    }
  },
};

/**
 * One no-leak case per op family.
 *
 * @example
 * ```ts
 * memoryCases()[0].id; // 'memory/unary'
 * ```
 */
export function memoryCases(): RunnableCase[] {
  return Object.entries(FAMILIES).map(([name, body]) => ({
    id: `memory/${name}`, group: 'memory', op: name, dtypes: ['float32'], hasGradient: true,
    run: (ctx: CaseContext) => expectNoLeaks(`memory/${name}`, () => body(ctx)),
  }));
}
