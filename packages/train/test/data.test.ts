// SPDX-License-Identifier: MIT
// Datasets, collate and randomSplit: defaultCollate's values and dtypes for numbers, booleans,
// strings, typed/nested arrays, tensors, tuples and objects (hand-computed); padCollate's ids,
// masks and labels; TensorDataset/Subset; randomSplit sizes as PyTorch's algorithm gives them
// (floor, then the remainder round-robin: worked out by hand from torch.utils.data.random_split)
// and that the subsets partition the dataset; bad input raises HeedError and leaks nothing.
import { describe, expect, it } from 'vitest';
import { HeedError, memory, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  Rng, Subset, TensorDataset, defaultCollate, disposeBatch, isMapDataset, padCollate, randomSplit, splitLengths,
} from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const values = async (t: Tensor) => ({ dtype: t.dtype, shape: [...t.shape], data: Array.from(await t.data()) });

describe('defaultCollate', () => {
  it('stacks numbers, booleans, arrays and tensors and recurses into tuples and objects', async () => {
    const before = memory().numTensors;
    const items = [
      { x: [1, 2], y: 0, w: 0.5, ok: true, name: 'a', pair: [tensor([1, 2]), 3], f: new Float32Array([1, 2]), m: [[1, 2], [3, 4]] },
      { x: [3, 4], y: 1, w: 2, ok: false, name: 'b', pair: [tensor([3, 4]), 5], f: new Float32Array([3, 4.5]), m: [[5, 6], [7, 8]] },
    ];
    const b = defaultCollate(items);
    expect(await values(b.x)).toEqual({ dtype: 'int32', shape: [2, 2], data: [1, 2, 3, 4] });
    expect(await values(b.y)).toEqual({ dtype: 'int32', shape: [2], data: [0, 1] });
    expect(await values(b.w)).toEqual({ dtype: 'float32', shape: [2], data: [0.5, 2] });
    expect(await values(b.ok)).toEqual({ dtype: 'bool', shape: [2], data: [1, 0] });
    expect(b.name).toEqual(['a', 'b']);
    expect(await values(b.pair[0])).toEqual({ dtype: 'float32', shape: [2, 2], data: [1, 2, 3, 4] });
    expect(await values(b.pair[1])).toEqual({ dtype: 'int32', shape: [2], data: [3, 5] });
    expect(await values(b.f)).toEqual({ dtype: 'float32', shape: [2, 2], data: [1, 2, 3, 4.5] });
    expect(await values(b.m)).toEqual({ dtype: 'int32', shape: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] });
    // The batch holds new tensors: disposing it leaves the items' tensors alive.
    disposeBatch(b);
    expect(items[0].pair[0]).toHaveProperty('isDisposed', false);
    disposeBatch(items);
    expect(memory().numTensors).toBe(before);
  });

  it('rejects mismatched items with a HeedError naming the path, and leaks nothing', () => {
    const before = memory().numTensors;
    expect(() => defaultCollate([{ a: 1, b: [1, 2] }, { a: 2, b: [1, 2, 3] }])).toThrow(/item\.b: numeric arrays of different shapes \(\[2\] and \[3\]\).*padCollate/);
    expect(() => defaultCollate([{ a: 1 }, { c: 1 }])).toThrow(/objects with different keys/);
    expect(() => defaultCollate([[1, 'x'], [2, 3]])).toThrow(/item\[1\]: some items are strings/);
    expect(() => defaultCollate([null])).toThrow(HeedError);
    expect(() => defaultCollate([])).toThrow(/non-empty array/);
    disposeBatch(defaultCollate([1.5, 2 ** 40])); // floats: any magnitude
    expect(memory().numTensors).toBe(before);
  });
});

describe('padCollate', () => {
  it('pads to the longest sequence with padId and masks real tokens with 1', async () => {
    const collate = padCollate({ padId: 0 });
    const b = collate([{ inputIds: [5, 6, 7], label: 1, weight: 0.5 }, { inputIds: [8], label: 0, weight: 1 }]);
    expect(await values(b.inputIds)).toEqual({ dtype: 'int32', shape: [2, 3], data: [5, 6, 7, 8, 0, 0] });
    expect(await values(b.attentionMask)).toEqual({ dtype: 'int32', shape: [2, 3], data: [1, 1, 1, 1, 0, 0] });
    expect(await values(b.labels!)).toEqual({ dtype: 'int32', shape: [2], data: [1, 0] });
    expect(await values(b.weight as Tensor)).toEqual({ dtype: 'float32', shape: [2], data: [0.5, 1] });
    disposeBatch(b);
    const seq = padCollate({ padId: 3, labelPadId: -100 })([{ inputIds: [1, 2], labels: [2, 9] }, { inputIds: new Int32Array([4, 5, 6]), labels: [5, 6, 7] }]);
    expect(await values(seq.inputIds)).toEqual({ dtype: 'int32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
    expect(await values(seq.labels!)).toEqual({ dtype: 'int32', shape: [2, 3], data: [2, 9, -100, 5, 6, 7] });
    disposeBatch(seq);
    const bare = padCollate({ padId: 9 })([[1], [2, 3]]);
    expect(Object.keys(bare).sort()).toEqual(['attentionMask', 'inputIds']);
    expect(await values(bare.inputIds)).toEqual({ dtype: 'int32', shape: [2, 2], data: [1, 9, 2, 3] });
    expect(await values(bare.attentionMask)).toEqual({ dtype: 'int32', shape: [2, 2], data: [1, 0, 1, 1] });
    disposeBatch(bare);
  });

  it('rejects bad ids, labels and options, and leaks nothing', () => {
    const before = memory().numTensors;
    const collate = padCollate({ padId: 0 });
    expect(() => collate([[1, -2]])).toThrow(/token ids must be integers/);
    expect(() => collate([{ inputIds: [1], labels: [1, 2] }])).toThrow(/2 labels but the longest sequence has 1/);
    expect(() => collate([{ inputIds: [1], label: 1, labels: 1 }])).toThrow(/both 'label' and 'labels'/);
    expect(() => collate([{ ids: [1] } as never])).toThrow(/inputIds/);
    expect(() => padCollate({ padId: 0, pad: 1 } as never)).toThrow(/unknown option 'pad'/);
    expect(() => padCollate({} as never)).toThrow(/numeric padId/);
    expect(memory().numTensors).toBe(before);
  });
});

describe('TensorDataset and Subset', () => {
  it('index rows of tensors that share their first dimension', async () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]);
    const y = tensor([0, 1, 0], { dtype: 'int32' });
    const ds = new TensorDataset(x, y);
    expect(ds.length).toBe(3);
    expect(isMapDataset(ds)).toBe(true);
    const [xi, yi] = ds.get(2);
    expect(await values(xi)).toEqual({ dtype: 'float32', shape: [2], data: [5, 6] });
    expect(await values(yi)).toEqual({ dtype: 'int32', shape: [], data: [0] });
    disposeBatch([xi, yi]);
    const sub = new Subset(ds, [2, 0]);
    expect(sub.length).toBe(2);
    expect(sub.itemsOwnedByLoader).toBe(true);
    const [x0] = await sub.get(1);
    expect(Array.from(await x0.data())).toEqual([1, 2]);
    disposeBatch(x0);
    expect(() => ds.get(3)).toThrow(/out of range/);
    expect(() => new Subset(ds, [0, 5])).toThrow(/index 5 is out of range for a dataset of length 3/);
    expect(() => new TensorDataset(x, tensor([1, 2]))).toThrow(/same first dimension.*\[3, 2\].*\[2\]/);
    expect(() => new TensorDataset()).toThrow(HeedError);
    disposeBatch([x, y]);
  });
});

describe('randomSplit', () => {
  it('gives the lengths PyTorch gives: floor, then the remainder round-robin', () => {
    expect(splitLengths(10, [0.3, 0.3, 0.4])).toEqual([3, 3, 4]);
    expect(splitLengths(11, [0.5, 0.5])).toEqual([6, 5]);
    expect(splitLengths(7, [0.2, 0.2, 0.6])).toEqual([2, 1, 4]);
    expect(splitLengths(13, [0.25, 0.25, 0.25, 0.25])).toEqual([4, 3, 3, 3]);
    expect(splitLengths(3, [0.1, 0.1, 0.8])).toEqual([1, 0, 2]);
    expect(splitLengths(5, [1, 0])).toEqual([5, 0]); // sums to 1: fractions, as in PyTorch
    expect(splitLengths(10, [7, 3])).toEqual([7, 3]);
    expect(() => splitLengths(10, [7, 4])).toThrow(/sum to 11, but the dataset has 10/);
    expect(() => splitLengths(10, [0.5, 0.4])).toThrow(/neither integer counts nor fractions/);
    expect(() => splitLengths(10, [])).toThrow(HeedError);
    expect(() => splitLengths(10, [-1, 11])).toThrow(HeedError);
  });

  it('partitions the dataset, the same way for the same seed', async () => {
    const ds = { length: 23, get: (i: number) => i };
    const parts = randomSplit(ds, [0.6, 0.2, 0.2], 42);
    expect(parts.map((p) => p.length)).toEqual([14, 5, 4]); // 13.8, 4.6, 4.6 -> 13, 4, 4; +1, +1
    const members = parts.map((p) => Array.from({ length: p.length }, (_, i) => p.get(i) as number));
    expect(members.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(members.flat()).not.toEqual(Array.from({ length: 23 }, (_, i) => i)); // shuffled
    const again = randomSplit(ds, [0.6, 0.2, 0.2], new Rng(42));
    expect(again.map((p) => [...p.indices])).toEqual(parts.map((p) => [...p.indices]));
    expect(randomSplit(ds, [0.6, 0.2, 0.2], 43)[0].indices).not.toEqual(parts[0].indices);
    expect(() => randomSplit([1, 2] as never, [1, 1])).toThrow(/numeric 'length' and a 'get/);
    expect(() => randomSplit(ds, [23], 1.5)).toThrow(/integer seed/);
    await Promise.resolve();
  });
});
