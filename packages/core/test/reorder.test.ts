// SPDX-License-Identifier: MIT
// The reshuffle, triangle, mask and scan composites leave nothing behind (every intermediate
// tensor is freed, also under autograd) and keep dtypes as PyTorch does; values are checked
// against PyTorch fixtures in the conformance suite (reorder group).
import { describe, expect, it } from 'vitest';
import {
  cumprod, cumsum, diff, flip, grad, maskedFill, memory, repeat, roll, tensor, tile, tril, triu, type Tensor,
} from '@heed/core';
import './setup.js';

const x = () => tensor([[1, 2, 3], [4, 5, 6]]);
const mask = () => tensor([[true, false, true]]);

const OPS: Record<string, (t: Tensor) => Tensor> = {
  flip: (t) => flip(t, [0, 1]),
  roll: (t) => roll(t, [1, -1], [0, 1]),
  'roll-flat': (t) => roll(t, 2),
  repeat: (t) => repeat(t, [2, 1, 2]),
  tile: (t) => tile(t, [3]),
  tril: (t) => tril(t, -1),
  triu: (t) => triu(t, 1),
  maskedFill: (t) => { const m = mask(); const y = maskedFill(t, m, -1); m.dispose(); return y; },
  diff: (t) => diff(t, { n: 2, axis: 1 }),
  cumsum: (t) => cumsum(t, 1),
  cumprod: (t) => cumprod(t, 0),
};

describe('reorder composites', () => {
  it.each(Object.keys(OPS))('%s frees every intermediate, forward and backward', (name) => {
    const before = memory().numTensors;
    const t = x();
    OPS[name](t).dispose();
    const g = grad((v: Tensor) => OPS[name](v).sum())(t);
    g.dispose();
    t.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('keeps the input dtype (int32, bool) where PyTorch does', () => {
    const i = tensor([[1, 2], [3, 4]], { dtype: 'int32' });
    const b = tensor([[true, false], [false, true]]);
    const outs = [flip(i, 0), roll(b, 1), repeat(b, [1, 2]), tril(i), triu(b), maskedFill(i, b, 9), diff(i), cumsum(b, 0), diff(b)];
    expect(outs.map((o) => o.dtype)).toEqual(['int32', 'bool', 'bool', 'int32', 'bool', 'int32', 'int32', 'int32', 'bool']);
    expect(Array.from(maskedFill(i, b, 9).dataSync())).toEqual([9, 2, 3, 9]);
    expect(Array.from(cumsum(b, 0).dataSync())).toEqual([1, 0, 1, 1]);
    const filled = maskedFill(b, tensor([[false, true], [false, false]]), 2); // bool(2) is true
    expect(Array.from(filled.dataSync())).toEqual([1, 1, 0, 1]);
    outs.push(filled);
    for (const o of [i, b, ...outs]) o.dispose();
  });

  it('maskedFill with a 0-d tensor value passes the gradient of the filled positions to it', () => {
    const v = tensor(0.5);
    const t = x();
    const m = mask();
    const g = grad((val: Tensor) => maskedFill(t, m, val).sum())(v);
    expect(g.dataSync()[0]).toBe(4); // two rows x two true columns
    for (const u of [v, t, m, g]) u.dispose();
  });
});
