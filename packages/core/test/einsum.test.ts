// SPDX-License-Identifier: MIT
// einsum against an independent oracle: a naive evaluator that loops over every assignment of
// the subscripts (written here from the definition), over explicit/implicit outputs, traces,
// diagonals, ellipsis broadcasting, size-1 broadcasting and 3-4 operand chains; gradients
// against the equivalent matmul; that contractions go through matmul; and the equation errors.
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import { Generator, einsum, grad, matmul, randn, tensor, valueAndGrad, type Tensor } from '@heed/core';

/** Reference einsum: sums prod_i x_i[labels_i] over all subscript values (no broadcasting of ellipsis rank). */
function naive(equation: string, xs: { shape: number[]; data: number[] }[]): { shape: number[]; data: number[] } {
  const [lhs, rhsGiven] = equation.split('->');
  const terms = lhs.split(',');
  const maxEll = Math.max(0, ...terms.map((t, i) => (t.includes('...') ? xs[i].shape.length - t.replace('...', '').length : 0)));
  const ellNames = Array.from({ length: maxEll }, (_, k) => String(k));
  const expandTerm = (t: string, rank: number): string[] => {
    const letters = t.replace('...', '').split('');
    if (!t.includes('...')) return letters;
    const n = rank - letters.length;
    const at = t.indexOf('...');
    return [...t.slice(0, at).split(''), ...ellNames.slice(maxEll - n), ...t.slice(at + 3).split('')];
  };
  const labels = terms.map((t, i) => expandTerm(t, xs[i].shape.length));
  const size = new Map<string, number>();
  labels.forEach((ls, i) => ls.forEach((l, d) => { if ((size.get(l) ?? 1) === 1) size.set(l, xs[i].shape[d]); }));
  let out: string[];
  if (rhsGiven !== undefined) out = expandTerm(rhsGiven, maxEll + rhsGiven.replace('...', '').length);
  else {
    const all = labels.flat();
    out = [...ellNames, ...[...new Set(all)].filter((l) => !ellNames.includes(l) && all.filter((m) => m === l).length === 1).sort()];
  }
  const every = [...size.keys()];
  const outShape = out.map((l) => size.get(l)!);
  const data = new Array<number>(outShape.reduce((a, b) => a * b, 1)).fill(0);
  const assign = new Map<string, number>();
  const rec = (k: number): void => {
    if (k === every.length) {
      let p = 1;
      xs.forEach((x, i) => {
        let flat = 0;
        labels[i].forEach((l, d) => { flat = flat * x.shape[d] + (x.shape[d] === 1 ? 0 : assign.get(l)!); });
        p *= x.data[flat];
      });
      let o = 0;
      out.forEach((l, d) => { o = o * outShape[d] + assign.get(l)!; });
      data[o] += p;
      return;
    }
    for (let v = 0; v < size.get(every[k])!; v++) { assign.set(every[k], v); rec(k + 1); }
  };
  rec(0);
  return { shape: outShape, data };
}

const g = new Generator(5);
function operand(shape: number[]): Tensor {
  return randn(shape, { generator: g });
}

const CASES: [string, number[][]][] = [
  ['ij,jk->ik', [[2, 3], [3, 4]]],
  ['ij,jk', [[2, 3], [3, 4]]],
  ['ba,ca', [[2, 3], [4, 3]]],
  ['ii', [[3, 3]]],
  ['ii->i', [[3, 3]]],
  ['iji->j', [[2, 3, 2]]],
  ['ij->', [[2, 3]]],
  ['ij->ji', [[2, 3]]],
  ['ij', [[2, 3]]],
  ['i,i->', [[4], [4]]],
  ['i,j->ij', [[2], [3]]],
  ['i,i->i', [[3], [1]]],
  ['bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]],
  ['bhqd,bhkd->bhqk', [[2, 2, 3, 4], [2, 2, 5, 4]]],
  ['...ij,...jk->...ik', [[2, 1, 2, 3], [4, 3, 5]]],
  ['...ij,...jk', [[3, 2, 3], [1, 3, 5]]],
  ['...i->i', [[2, 3, 4]]],
  ['b...a', [[2, 3, 4]]],
  ['i...,...->...', [[2, 3], [3]]],
  ['Ab,ab', [[2, 3], [2, 3]]],
  ['ij,jk,kl->il', [[2, 3], [3, 4], [4, 2]]],
  ['ab,bc,cd,de->ae', [[2, 2], [2, 3], [3, 2], [2, 2]]],
  ['ijk,ikj->k', [[2, 3, 3], [2, 3, 3]]],
  ['i,jk->', [[2], [3, 2]]],
  ['bn,anm,bm->ba', [[2, 3], [4, 3, 5], [2, 5]]],
  ['ij,ij,ij->ij', [[2, 3], [2, 3], [1, 3]]],
  [' ij , jk -> ik ', [[2, 0], [0, 3]]],
  ['->', [[]]],
  [',i->i', [[], [3]]],
];

describe('einsum matches a naive evaluator', () => {
  for (const [eq, shapes] of CASES) {
    it(`'${eq}' on ${shapes.map((s) => `[${s.join(',')}]`).join(' ')}`, () => {
      const xs = shapes.map(operand);
      const want = naive(eq.replace(/\s/g, ''), xs.map((x) => ({ shape: [...x.shape], data: Array.from(x.dataSync()) })));
      expectClose(einsum(eq, ...xs), want.data, want.shape, 1e-5);
    });
  }
});

describe('einsum gradients and lowering', () => {
  it('has the gradients of the equivalent matmul', () => {
    const a = operand([3, 4]);
    const b = operand([4, 2]);
    const u = operand([3, 2]);
    const viaEinsum = valueAndGrad((p: Tensor, q: Tensor) => einsum('ij,jk->ik', p, q).mul(u).sum())(a, b).grads;
    const viaMatmul = valueAndGrad((p: Tensor, q: Tensor) => matmul(p, q).mul(u).sum())(a, b).grads;
    expectClose(viaEinsum[0], Array.from(viaMatmul[0].dataSync()), [3, 4]);
    expectClose(viaEinsum[1], Array.from(viaMatmul[1].dataSync()), [4, 2]);
  });

  it('gives the trace gradient (the identity) and the diagonal gradient', () => {
    expectClose(grad((x: Tensor) => einsum('ii', x))(operand([3, 3])), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const gd = grad((x: Tensor) => einsum('ii->i', x).mul(tensor([1, 2])).sum())(operand([2, 2]));
    expectClose(gd, [1, 0, 0, 2]);
  });

  it('contracts pair-wise through one backend matmul per pair, with no operand-sized broadcast products', () => {
    const xs = [operand([8, 9]), operand([9, 10]), operand([10, 7])];
    const backend = xs[0].backend;
    const calls: number[][] = [];
    const own = Object.getOwnPropertyDescriptor(backend, 'matmul');
    const original = backend.matmul.bind(backend);
    backend.matmul = (a, b) => { calls.push([...a.shape, ...b.shape]); return original(a, b); };
    try {
      expect([...einsum('ij,jk,kl->il', ...xs).shape]).toEqual([8, 7]);
    } finally {
      if (own) Object.defineProperty(backend, 'matmul', own);
      else delete (backend as { matmul?: unknown }).matmul;
    }
    expect(calls).toEqual([[1, 8, 9, 1, 9, 10], [1, 8, 10, 1, 10, 7]]);
  });

  it('returns a fresh tensor the caller may dispose', () => {
    const x = operand([2, 3]);
    const y = einsum('ij', x);
    y.dispose();
    expect(x.dataSync().length).toBe(6);
  });
});

describe('einsum errors name the subscript and shapes', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([[1, 2], [3, 4], [5, 6], [7, 8]]);
  const cases: [() => Tensor, RegExp][] = [
    [() => einsum('ij,jk->ik', a), /einsum: 'ij,jk->ik' has 2 input terms but 1 operand was given \(shapes \[2, 3\]\)/],
    [() => einsum('ij,jk', a, b), /subscript 'j' has size 4 in operand 1 \('jk', shape \[4, 2\]\) but 3 in operand 0 \('ij', shape \[2, 3\]\)/],
    [() => einsum('i->j', tensor([1, 2])), /output subscript 'j' of 'i->j' does not appear in any input term/],
    [() => einsum('ii->ii', b.slice([[0, 2]])), /output subscript 'i' appears more than once/],
    [() => einsum('i.j', a), /found '.' in operand 0 \('i.j'\) that is not part of an ellipsis/],
    [() => einsum('ij->', tensor([1, 2])), /operand 0 has 2 subscripts \('ij'\) but 1 dimensions and no ellipsis/],
    [() => einsum('ii', a), /subscript 'i' is repeated in operand 0 \('ii', shape \[2, 3\]\) but its sizes differ \(2 vs 3\)/],
    [() => einsum('i1', a), /invalid subscript '1' in operand 0/],
    [() => einsum('......', a), /more than one ellipsis/],
    [() => einsum('ij->i->j', a), /more than one '->'/],
    [() => einsum('ij', tensor([[1, 2]], { dtype: 'int32' })), /operand 0 is int32 \[1, 2\]; einsum needs float operands/],
  ];
  for (const [f, re] of cases) it(String(re), () => expect(f).toThrow(re));
});
