// SPDX-License-Identifier: MIT
// Broadcasting, scalar (rank-0) and zero-size checks that complement the fixtures of those
// groups: result shapes of many broadcast pairs (both operand orders), reading rank-0 values
// (data, array, item), gradients reaching rank-0 and zero-size leaves, and zero-size
// creation/reads for every dtype.
import {
  add, arange, concat, full, matmul, sum, tensor, tidy, zeros, type DType, type Tensor,
} from '@heed/core';
import { ensure, readHost } from '../assert.js';
import type { CaseContext, RunnableCase } from '../types.js';

const BROADCAST_PAIRS: readonly [number[], number[], number[]][] = [
  [[], [2, 3], [2, 3]], [[1], [2, 3], [2, 3]], [[3], [2, 3], [2, 3]], [[2, 1], [1, 3], [2, 3]], [[2, 1, 4], [3, 1], [2, 3, 4]],
  [[1, 1, 1], [5], [1, 1, 5]], [[0, 1], [1, 3], [0, 3]], [[4, 1, 2], [1, 0, 1], [4, 0, 2]], [[1], [], [1]], [[2, 3, 1, 1], [1, 4, 5], [2, 3, 4, 5]],
];

/** Sum of 0..n-1 for the value checks below. */
function arangeSum(n: number): number {
  return (n * (n - 1)) / 2;
}

async function broadcastShapes(ctx: CaseContext): Promise<void> {
  for (const [a, b, want] of BROADCAST_PAIRS) {
    for (const [x, y] of [[a, b], [b, a]]) {
      const out = tidy(() => add(full(x, 1, { backend: ctx.backend }), full(y, 2, { backend: ctx.backend })));
      try {
        ensure(out.shape.join() === want.join(), () => `add of [${x}] and [${y}] has shape [${out.shape}], want [${want}]`);
        const h = await readHost(out);
        ensure(h.values.every((v) => v === 3), () => `add of [${x}] and [${y}] should be all 3, got [${h.values.slice(0, 8)}]`);
      } finally {
        out.dispose();
      }
    }
  }
}

async function broadcastGradients(ctx: CaseContext): Promise<void> {
  const a = tensor([1, 2, 3], { shape: [3, 1], backend: ctx.backend, requiresGrad: true });
  const b = tensor([10, 20, 30, 40], { shape: [1, 1, 4], backend: ctx.backend, requiresGrad: true });
  try {
    tidy(() => a.mul(b).sum().backward());
    const ga = await readHost(a.grad as Tensor);
    const gb = await readHost(b.grad as Tensor);
    ensure(ga.shape.join() === '3,1' && ga.values.join() === '100,100,100', () => `grad of a: [${ga.shape}] ${ga.values}`);
    ensure(gb.shape.join() === '1,1,4' && gb.values.join() === '6,6,6,6', () => `grad of b: [${gb.shape}] ${gb.values}`);
  } finally {
    a.dispose();
    b.dispose();
  }
}

async function scalarReads(ctx: CaseContext): Promise<void> {
  for (const [value, dtype] of [[2.5, 'float32'], [-7, 'int32'], [1, 'bool']] as [number, DType][]) {
    const t = tensor(dtype === 'bool' ? true : value, { dtype, backend: ctx.backend });
    try {
      ensure(t.shape.length === 0 && t.size === 1, () => `scalar tensor has shape [${t.shape}]`);
      const d = await t.data();
      ensure(d.length === 1 && d[0] === value, () => `${dtype} scalar data() gave [${Array.from(d)}], want [${value}]`);
      ensure((await t.item()) === value, `${dtype} scalar item() differs`);
      const arr = await t.array();
      ensure(arr === (dtype === 'bool' ? true : value), () => `${dtype} scalar array() gave ${String(arr)}`);
    } finally {
      t.dispose();
    }
  }
}

async function scalarGradients(ctx: CaseContext): Promise<void> {
  const s = tensor(3, { backend: ctx.backend, requiresGrad: true });
  const v = tensor([1, 2, 4], { backend: ctx.backend, requiresGrad: true });
  try {
    tidy(() => s.mul(v).square().sum().backward());
    const gs = await readHost(s.grad as Tensor);
    const gv = await readHost(v.grad as Tensor);
    ensure(gs.shape.length === 0 && gs.values[0] === 2 * 3 * (1 + 4 + 16), () => `grad of the scalar: [${gs.shape}] ${gs.values}`);
    ensure(gv.values.join() === [18, 36, 72].join(), () => `grad of the vector: ${gv.values}`);
  } finally {
    s.dispose();
    v.dispose();
  }
}

async function zeroSizeReads(ctx: CaseContext): Promise<void> {
  const kinds: [DType, string][] = [['float32', 'Float32Array'], ['int32', 'Int32Array'], ['bool', 'Uint8Array']];
  for (const [dtype, cls] of kinds) {
    for (const shape of [[0], [2, 0], [0, 3, 2]]) {
      const t = zeros(shape, { dtype, backend: ctx.backend });
      const view = t.rank > 1 ? t.transpose(0, 1) : null;
      try {
        const d = await t.data();
        ensure(d.length === 0 && d.constructor.name === cls, () => `${dtype} [${shape}] data() gave ${d.constructor.name}(${d.length})`);
        if (view) ensure((await view.data()).length === 0, `reading a zero-size view gave values`);
      } finally {
        view?.dispose();
        t.dispose();
      }
    }
  }
  const r = arange(0, undefined, 1, { backend: ctx.backend });
  const e = tensor([], { backend: ctx.backend });
  try {
    ensure(r.shape.join() === '0' && r.dtype === 'int32', `arange(0) should be int32 [0]`);
    ensure(e.shape.join() === '0' && (await e.data()).length === 0, `tensor([]) should be [0]`);
  } finally {
    r.dispose();
    e.dispose();
  }
}

async function zeroSizeGradients(ctx: CaseContext): Promise<void> {
  const a = zeros([2, 0], { backend: ctx.backend, requiresGrad: true });
  const b = zeros([0, 3], { backend: ctx.backend, requiresGrad: true });
  const c = tensor([1, 2, 3], { backend: ctx.backend, requiresGrad: true });
  try {
    const out = tidy(() => {
      const y = matmul(a, b).add(c); // zeros [2, 3] + c
      const joined = concat([sum(b, { axis: 0 }).add(c), c], 0);
      return y.sum().add(joined.sum());
    });
    ensure((await out.item()) === 2 * 6 + 12, `sum over a matmul with an empty inner dim plus a concat with an empty sum`);
    out.backward();
    out.dispose();
    ensure(a.grad !== null && a.grad.shape.join() === '2,0', () => `grad of a [2, 0]: ${String(a.grad?.shape)}`);
    ensure(b.grad !== null && b.grad.shape.join() === '0,3', () => `grad of b [0, 3]: ${String(b.grad?.shape)}`);
    const gc = await readHost(c.grad as Tensor);
    ensure(gc.values.join() === '4,4,4', () => `grad of c: ${gc.values}`);
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
}

async function rangeSums(ctx: CaseContext): Promise<void> {
  for (const n of [1, 7, 64, 1000, 4099]) {
    const s = tidy(() => sum(arange(n, undefined, 1, { backend: ctx.backend })));
    try {
      ensure(s.dtype === 'int32' && (await s.item()) === arangeSum(n), () => `sum(arange(${n})) should be ${arangeSum(n)}`);
    } finally {
      s.dispose();
    }
  }
}

/**
 * Broadcast, scalar and zero-size checks written in TypeScript.
 *
 * @example
 * ```ts
 * miscCases().map((c) => c.id); // ['broadcast/shapes', ...]
 * ```
 */
export function miscCases(): RunnableCase[] {
  return [
    { id: 'broadcast/shapes', group: 'broadcast', op: 'add', dtypes: ['float32'], hasGradient: false, run: broadcastShapes },
    { id: 'broadcast/gradients-unbroadcast', group: 'broadcast', op: 'mul', dtypes: ['float32'], hasGradient: true, run: broadcastGradients },
    { id: 'dtypes/int32-range-sums', group: 'dtypes', op: 'sum', dtypes: ['int32'], hasGradient: false, run: rangeSums },
    { id: 'scalars/read', group: 'scalars', op: 'data', dtypes: ['float32', 'int32', 'bool'], hasGradient: false, run: scalarReads },
    { id: 'scalars/gradients', group: 'scalars', op: 'mul', dtypes: ['float32'], hasGradient: true, run: scalarGradients },
    { id: 'zero-size/read', group: 'zero-size', op: 'data', dtypes: ['float32', 'int32', 'bool'], hasGradient: false, run: zeroSizeReads },
    { id: 'zero-size/gradients', group: 'zero-size', op: 'matmul', dtypes: ['float32'], hasGradient: true, run: zeroSizeGradients },
  ];
}
