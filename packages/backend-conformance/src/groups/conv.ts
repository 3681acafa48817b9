// SPDX-License-Identifier: MIT
// Convolution and pooling cases: every case of fixtures/conv.json (gen_conv_fixtures.py,
// PyTorch 1.13) forward and gradients with contiguous and non-contiguous inputs, finite
// differences of conv1d/conv2d/convTranspose2d/pools in every option family (and second order
// through conv2d's own gradients), and the errors
// (bad shapes, groups, options) that must leave memory and the backend as they were.
// Invariant: every tensor a case creates is disposed, also when an assertion fails.
import {
  adaptiveAvgPool2d, avgPool1d, avgPool2d, conv1d, conv2d, convTranspose2d, maxPool1d, maxPool2d, tensor,
  type Tensor,
} from '@heed/core';
import { ensure } from '../assert.js';
import { readFixtureFile, type FixtureCase } from '../fixtures.js';
import { layoutApplies, type Rng } from '../host.js';
import type { CaseContext, RunnableCase } from '../types.js';
import { checkFirstOrder, checkSecondOrder } from './finite-diff.js';
import { errorSpec, runError } from './errors.js';
import { runFixtureCase } from './fixture-cases.js';
import type { FdInput, FdSpec } from './finite-diff-specs.js';

type Attrs = Readonly<Record<string, unknown>>;
type ConvFixtureOp = 'conv1d' | 'conv2d' | 'convTranspose2d' | 'maxPool1d' | 'maxPool2d' | 'avgPool1d' | 'avgPool2d' | 'adaptiveAvgPool2d';

/** The attrs minus the fixture-only keys, as an options object (bias from the third input). */
function opts<T>(attrs: Attrs, xs: readonly Tensor[]): T {
  const { bias, kernelSize, outputSize, ...rest } = attrs;
  void kernelSize; void outputSize;
  return (bias ? { ...rest, bias: xs[2] } : rest) as T;
}

type Kernel = number | number[];
const CONV_OPS: Readonly<Record<ConvFixtureOp, (xs: readonly Tensor[], a: Attrs) => Tensor>> = {
  conv1d: (xs, a) => conv1d(xs[0], xs[1], opts(a, xs)),
  conv2d: (xs, a) => conv2d(xs[0], xs[1], opts(a, xs)),
  convTranspose2d: (xs, a) => convTranspose2d(xs[0], xs[1], opts(a, xs)),
  maxPool1d: (xs, a) => maxPool1d(xs[0], a.kernelSize as Kernel, opts(a, xs)),
  maxPool2d: (xs, a) => maxPool2d(xs[0], a.kernelSize as Kernel, opts(a, xs)),
  avgPool1d: (xs, a) => avgPool1d(xs[0], a.kernelSize as Kernel, opts(a, xs)),
  avgPool2d: (xs, a) => avgPool2d(xs[0], a.kernelSize as Kernel, opts(a, xs)),
  adaptiveAvgPool2d: (xs, a) => adaptiveAvgPool2d(xs[0], a.outputSize as number | (number | null)[]),
};

function runConvOp(op: string, inputs: readonly Tensor[], attrs: Attrs): Tensor[] {
  ensure(Object.prototype.hasOwnProperty.call(CONV_OPS, op), `conv.json names op '${op}', which CONV_OPS does not know`);
  return [CONV_OPS[op as ConvFixtureOp](inputs, attrs)];
}

let cache: readonly FixtureCase[] | null = null;
function convFixtures(): readonly FixtureCase[] {
  if (!cache) cache = readFixtureFile('conv.json');
  return cache;
}

const U = (...shape: number[]): FdInput => ({ shape, values: { kind: 'uniform' } });
const Distinct = (...shape: number[]): FdInput => ({ shape, values: { kind: 'distinct' } });
/** Distinct values in shuffled order (so window maxima sit anywhere, at least 0.18 apart). */
const Shuffled = (...shape: number[]): FdInput => ({
  shape,
  values: (rng: Rng) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = Array.from({ length: n }, (_, i) => Math.fround(-2 + (4 * i) / n));
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  },
});

/** Finite-difference checks: input, weight and bias gradients of each option family. */
const FD: Readonly<Record<string, FdSpec>> = {
  'conv2d-stride-pad-bias': { op: 'conv2d', inputs: [U(2, 2, 5, 4), U(3, 2, 3, 2), U(3)], f: ([x, w, b]) => conv2d(x, w, { bias: b, stride: [2, 1], padding: 1 }) },
  'conv2d-same-dilation': { op: 'conv2d', inputs: [U(1, 2, 5, 5), U(2, 2, 2, 3)], f: ([x, w]) => conv2d(x, w, { padding: 'same', dilation: [2, 1] }) },
  'conv2d-groups': { op: 'conv2d', inputs: [U(1, 4, 4, 4), U(4, 2, 2, 2), U(4)], f: ([x, w, b]) => conv2d(x, w, { bias: b, groups: 2 }) },
  'conv2d-depthwise': { op: 'conv2d', inputs: [U(1, 3, 5, 5), U(3, 1, 3, 3)], f: ([x, w]) => conv2d(x, w, { groups: 3, stride: 2, padding: 1 }) },
  'conv1d-dilation-groups': { op: 'conv1d', inputs: [U(2, 4, 9), U(2, 2, 3), U(2)], f: ([x, w, b]) => conv1d(x, w, { bias: b, groups: 2, dilation: 2, padding: 1 }) },
  'convTranspose2d-stride-outpad': { op: 'convTranspose2d', inputs: [U(1, 2, 3, 3), U(2, 3, 3, 3), U(3)], f: ([x, w, b]) => convTranspose2d(x, w, { bias: b, stride: 2, padding: 1, outputPadding: 1 }) },
  'convTranspose2d-groups-dilation': { op: 'convTranspose2d', inputs: [U(1, 4, 3, 2), U(4, 1, 2, 2)], f: ([x, w]) => convTranspose2d(x, w, { groups: 2, dilation: 2 }) },
  'maxPool2d-overlap-pad': { op: 'maxPool2d', inputs: [Shuffled(1, 2, 5, 5)], f: ([x]) => maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }) },
  'maxPool1d-dilation': { op: 'maxPool1d', inputs: [Shuffled(2, 1, 9)], f: ([x]) => maxPool1d(x, 2, { stride: 1, dilation: 3 }) },
  'avgPool2d-exclude-pad-ceil': { op: 'avgPool2d', inputs: [U(1, 2, 5, 6)], f: ([x]) => avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }) },
  'avgPool1d': { op: 'avgPool1d', inputs: [U(1, 2, 7)], f: ([x]) => avgPool1d(x, 3, { stride: 2, padding: 1 }) },
  'adaptiveAvgPool2d': { op: 'adaptiveAvgPool2d', inputs: [Distinct(1, 2, 5, 7)], f: ([x]) => adaptiveAvgPool2d(x, [3, 4]) },
};

/** A constant float32 input (not differentiated). */
const Fixed = (...shape: number[]): FdInput => ({
  shape, dtype: 'float32', fixed: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.fround(Math.sin(1.7 * i + 1))),
});

/**
 * Second-order checks (w.r.t. the first input): they differentiate core's conv2d gradients
 * themselves (the transposed convolution for x; the x/dY correlation for w, a conv2d when
 * groups is 1 and a matmul otherwise).
 */
const FD2: Readonly<Record<string, FdSpec>> = {
  'conv2d-input': { op: 'conv2d', inputs: [U(1, 2, 5, 5), Fixed(3, 2, 3, 3)], f: ([x, w]) => conv2d(x, w, { padding: 1, stride: 2 }).square() },
  'conv2d-weight': { op: 'conv2d', inputs: [U(3, 2, 2, 3), Fixed(2, 2, 4, 5)], f: ([w, x]) => conv2d(x, w, { padding: [1, 0], dilation: [1, 2] }).square() },
  'conv2d-weight-groups': { op: 'conv2d', inputs: [U(4, 1, 3, 3), Fixed(1, 2, 4, 4)], f: ([w, x]) => conv2d(x, w, { groups: 2, padding: 1 }).square() },
};

const f32 = (ctx: CaseContext, shape: number[]): Tensor =>
  tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 10), { shape, backend: ctx.backend });

/** Bad calls: the message must name the op and these strings. */
const ERRORS: Readonly<Record<string, { op: string; shapes: number[][]; call: (xs: Tensor[]) => unknown; mentions: string[] }>> = {
  'conv2d-rank': { op: 'conv2d', shapes: [[5, 5], [2, 3, 3, 3]], call: ([x, w]) => conv2d(x, w), mentions: ['conv2d', '[5, 5]', '[N, C, H, W]'] },
  'conv2d-channels': { op: 'conv2d', shapes: [[1, 4, 5, 5], [2, 3, 3, 3]], call: ([x, w]) => conv2d(x, w), mentions: ['conv2d', '[1, 4, 5, 5]', '[2, 3, 3, 3]'] },
  'conv2d-groups': { op: 'conv2d', shapes: [[1, 4, 5, 5], [3, 2, 3, 3]], call: ([x, w]) => conv2d(x, w, { groups: 2 }), mentions: ['conv2d', 'groups 2', '[3, 2, 3, 3]'] },
  'conv2d-bias-shape': { op: 'conv2d', shapes: [[1, 2, 5, 5], [3, 2, 3, 3], [2]], call: ([x, w, b]) => conv2d(x, w, { bias: b }), mentions: ['conv2d', 'bias', '[3]', '[2]'] },
  'conv2d-kernel-too-large': { op: 'conv2d', shapes: [[1, 1, 2, 2], [1, 1, 3, 3]], call: ([x, w]) => conv2d(x, w), mentions: ['conv2d', '[1, 1, 2, 2]', 'kernel [3, 3]'] },
  'conv2d-same-stride': { op: 'conv2d', shapes: [[1, 1, 5, 5], [1, 1, 3, 3]], call: ([x, w]) => conv2d(x, w, { padding: 'same', stride: 2 }), mentions: ['conv2d', "'same'", 'stride'] },
  'conv2d-unknown-option': { op: 'conv2d', shapes: [[1, 1, 5, 5], [1, 1, 3, 3]], call: ([x, w]) => conv2d(x, w, { kernelSize: 3 } as never), mentions: ['conv2d', 'kernelSize'] },
  'conv1d-bad-stride': { op: 'conv1d', shapes: [[1, 1, 5], [1, 1, 3]], call: ([x, w]) => conv1d(x, w, { stride: 0 }), mentions: ['conv1d', 'stride', '0'] },
  'convTranspose2d-output-padding': { op: 'convTranspose2d', shapes: [[1, 2, 3, 3], [2, 1, 3, 3]], call: ([x, w]) => convTranspose2d(x, w, { stride: 2, outputPadding: 2 }), mentions: ['convTranspose2d', 'outputPadding [2, 2]', 'stride [2, 2]'] },
  'maxPool2d-padding': { op: 'maxPool2d', shapes: [[1, 1, 6, 6]], call: ([x]) => maxPool2d(x, 2, { padding: 2 }), mentions: ['maxPool2d', 'padding', 'half'] },
  'avgPool1d-rank': { op: 'avgPool1d', shapes: [[5]], call: ([x]) => avgPool1d(x, 2), mentions: ['avgPool1d', '[5]'] },
  'adaptiveAvgPool2d-size': { op: 'adaptiveAvgPool2d', shapes: [[1, 1, 4, 4]], call: ([x]) => adaptiveAvgPool2d(x, [0, 2]), mentions: ['adaptiveAvgPool2d', 'outputSize[0]'] },
};

/**
 * The convolution and pooling cases (fixtures, non-contiguous inputs, finite differences, errors).
 *
 * @example
 * ```ts
 * convCases().filter((c) => c.op === 'conv2d').length;
 * ```
 */
export function convCases(): RunnableCase[] {
  const fixtures = convFixtures().flatMap((c): RunnableCase[] => [{
    id: `fixtures/${c.id}`, group: 'fixtures', op: c.op, dtypes: ['float32'], hasGradient: true,
    run: (ctx) => runFixtureCase(c, ctx, 'contiguous', runConvOp),
  }, {
    id: `non-contiguous/${c.id}`, group: 'non-contiguous', op: c.op, dtypes: ['float32'], hasGradient: true,
    run: async (ctx) => {
      await runFixtureCase(c, ctx, 'strided', runConvOp);
      if (c.inputs.some((h) => layoutApplies('transposed', h.shape))) await runFixtureCase(c, ctx, 'transposed', runConvOp);
    },
  }]);
  const fd = Object.entries(FD).map(([name, spec]): RunnableCase => ({
    id: `finite-diff/conv/${name}`, group: 'finite-diff', op: spec.op, dtypes: ['float32'], hasGradient: true,
    run: (ctx) => checkFirstOrder(`conv/${name}`, spec, ctx),
  }));
  const second = Object.entries(FD2).map(([name, spec]): RunnableCase => ({
    id: `second-order/conv/${name}`, group: 'second-order', op: spec.op, dtypes: ['float32'], hasGradient: true,
    run: (ctx) => checkSecondOrder(`conv/${name}`, spec, ctx),
  }));
  const errors = Object.entries(ERRORS).map(([name, spec]): RunnableCase => ({
    id: `errors/conv/${name}`, group: 'errors', op: spec.op, dtypes: ['float32'], hasGradient: false,
    run: (ctx) => runError(name, errorSpec(spec.op, (c) => spec.shapes.map((shape) => f32(c, shape)), spec.call, spec.mentions), ctx),
  }));
  return [...fixtures, ...fd, ...second, ...errors];
}
