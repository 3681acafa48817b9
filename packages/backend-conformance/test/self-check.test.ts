// SPDX-License-Identifier: MIT
// Tests of the suite itself: every check must be able to fail. Each test breaks one thing in a
// copy of the toy backend (or feeds a wrong gradient) and requires the matching case to throw,
// while the intact toy passes it. Also checks the case list, the fixture table's coverage and
// the option validation of defineConformanceSuite.
import { describe, expect, it } from 'vitest';
import {
  customGrad, detach, type BinaryOp, type DataId, type DType, type RandomKind, type StridedView, type Tensor, type UnaryOp,
} from '@heed/core';
import {
  CASE_GROUPS, ConformanceError, assertTensorClose, conformanceCases, defineConformanceSuite,
  fixtureCases, prepareBackends, runnableCases, type PreparedBackends,
} from '@heed/backend-conformance';
import { FIXTURE_OPS } from '../src/fixture-ops.js';
import { FD_SPECS } from '../src/groups/finite-diff-specs.js';
import { checkFirstOrder, checkSecondOrder } from '../src/groups/finite-diff.js';
import { ToyBackend } from './toy-backend.js';

/** Toy variants, each with one defect. */
class WrongExp extends ToyBackend {
  override unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
    const id = super.unary(op, x, outDtype);
    return op === 'exp' ? super.binary('add', { data: id, dtype: 'float32', shape: x.shape, strides: contiguous(x.shape), offset: 0 },
      { data: super.fill(1, 1e-3, 'float32'), dtype: 'float32', shape: x.shape, strides: x.shape.map(() => 0), offset: 0 }, 'float32') : id;
  }
}
class IgnoresStrides extends ToyBackend {
  override binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
    const flat = (v: StridedView): StridedView => ({ ...v, strides: contiguous(v.shape), offset: 0 });
    return super.binary(op, a.strides.includes(0) ? a : flat(a), b.strides.includes(0) ? b : flat(b), outDtype);
  }
}
class UncheckedGather extends ToyBackend {
  override gather(x: StridedView, axis: number, index: StridedView): DataId {
    try {
      return super.gather(x, axis, index);
    } catch {
      return super.fill(index.shape.reduce((p, d) => p * d, 1), 0, x.dtype);
    }
  }
}
class OwnRandom extends ToyBackend {
  override random(_kind: RandomKind, size: number): DataId {
    return super.upload(Float32Array.from({ length: size }, () => Math.random()), 'float32');
  }
}
class NaiveSoftmax extends ToyBackend {
  override softmax(x: StridedView): DataId {
    const e = super.unary('exp', x, 'float32');
    const shape = x.shape;
    const view = { data: e, dtype: 'float32' as const, shape, strides: contiguous(shape), offset: 0 };
    const s = super.reduce('sum', view, [shape.length - 1], 'float32');
    const sView = { data: s, dtype: 'float32' as const, shape, strides: [...contiguous(shape.slice(0, -1)), 0], offset: 0 };
    return super.binary('div', view, sView, 'float32');
  }
}

function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

const caseById = (id: string) => {
  const c = runnableCases().find((x) => x.id === id);
  if (!c) throw new Error(`no case ${id}`);
  return c;
};

async function withBackend<T>(name: string, make: () => ToyBackend, fn: (run: PreparedBackends) => Promise<T>): Promise<T> {
  const run = await prepareBackends({ name, createBackend: make });
  try {
    return await fn(run);
  } finally {
    run.release();
  }
}

const broken: [string, () => ToyBackend, string][] = [
  ['wrong exp', () => new WrongExp('wrong-exp'), 'fixtures/unary/exp'],
  ['strides ignored', () => new IgnoresStrides('no-strides'), 'non-contiguous/binary/add'],
  ['unchecked gather index', () => new UncheckedGather('unchecked'), 'errors/gather-index-out-of-range'],
  ['own random numbers', () => new OwnRandom('own-random'), 'random/counter-based-values'],
  ['softmax without max subtraction', () => new NaiveSoftmax('naive-softmax'), 'fused/softmax'],
];

describe('the suite catches broken backends', () => {
  for (const [label, make, id] of broken) {
    it(`${label}: ${id} fails, and passes on the intact toy`, async () => {
      const name = make().name;
      await withBackend(name, make, async (run) => {
        await expect(caseById(id).run(run.context())).rejects.toThrow(/.+/);
      });
      await withBackend(`${name}-intact`, () => new ToyBackend(`${name}-intact`), async (run) => {
        await caseById(id).run(run.context());
      });
    });
  }

  it('finite differences reject a wrong gradient, and second order a gradient that is not differentiable', async () => {
    const wrong = customGrad((x: Tensor) => ({ value: x.mul(x).mul(x), backward: (dy: Tensor, s: Tensor[]) => [dy.mul(s[0].square()).mul(2.5)] }));
    // Right first derivative, but computed from a detached input: its own derivative is lost.
    const opaque = customGrad((x: Tensor) => ({ value: x.mul(x).mul(x), backward: (dy: Tensor, s: Tensor[]) => [dy.mul(detach(s[0]).square()).mul(3)] }));
    const spec = (f: (x: Tensor) => Tensor) => ({ op: 'customGrad', inputs: [{ shape: [2, 3], values: { kind: 'uniform' as const } }], f: ([x]: readonly Tensor[]) => f(x) });
    await withBackend('fd-check', () => new ToyBackend('fd-check'), async (run) => {
      await expect(checkFirstOrder('wrong', spec(wrong), run.context())).rejects.toThrow(ConformanceError);
      await checkFirstOrder('opaque', spec(opaque), run.context());
      await expect(checkSecondOrder('opaque', spec(opaque), run.context())).rejects.toThrow(ConformanceError);
      await checkSecondOrder('customGrad', FD_SPECS.customGrad, run.context());
    });
  });
});

describe('assertions', () => {
  const h = (values: number[], dtype: DType = 'float32') => ({ shape: [values.length], dtype, values });
  it('NaN matches NaN; infinities must match exactly; ints are exact', () => {
    assertTensorClose('nan', h([NaN, Infinity, 1]), h([NaN, Infinity, 1.00001]), 1e-4, 0);
    expect(() => assertTensorClose('inf', h([Infinity]), h([-Infinity]), 1, 1)).toThrow(ConformanceError);
    expect(() => assertTensorClose('nan', h([1]), h([NaN]), 1, 1)).toThrow(ConformanceError);
    expect(() => assertTensorClose('int', h([2], 'int32'), h([3], 'int32'), 1, 1)).toThrow(/exact/);
    expect(() => assertTensorClose('dtype', h([2], 'int32'), h([2]), 1, 1)).toThrow(/dtype/);
    expect(() => assertTensorClose('shape', { ...h([2]), shape: [1, 1] }, h([2]), 1, 1)).toThrow(/shape/);
  });
});

describe('the case list', () => {
  it('has unique ids in every group, and a fixture for every fixture op', () => {
    expect(new Set(conformanceCases.map((c) => c.id)).size).toBe(conformanceCases.length);
    for (const g of CASE_GROUPS) expect(conformanceCases.some((c) => c.group === g)).toBe(true);
    const used = new Set(fixtureCases().map((c) => c.op));
    expect(Object.keys(FIXTURE_OPS).filter((op) => !used.has(op))).toEqual([]);
    expect([...used].filter((op) => !(op in FIXTURE_OPS))).toEqual([]);
  });

  it('rejects skip keys that match nothing and reasons that are empty', () => {
    const createBackend = () => new ToyBackend('never');
    expect(() => defineConformanceSuite({ name: 'never', createBackend, skip: { 'fixtures/unary/nope': 'x' } })).toThrow(/matches no case/);
    expect(() => defineConformanceSuite({ name: 'never', createBackend, skip: { memory: ' ' } })).toThrow(/written reason/);
    expect(() => defineConformanceSuite({ name: 'never', createBackend, expectedFailures: { nope: 'x' } })).toThrow(/matches no case/);
  });
});

