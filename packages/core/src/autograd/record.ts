// SPDX-License-Identifier: MIT
// Recording: after an op computes its output, `record` attaches a GradNode when grad mode is
// on and some input requires grad. What each op saves comes from its rule in rules.ts.
// OpAttrs is the single typed list of differentiable ops and the attributes their rules need.
import type { Tensor } from '../tensor.js';
import { isFloatDType } from '../dtype.js';
import { isGradEnabled } from './mode.js';
import { GradNode, type SavedTensor } from './node.js';
import { gradRules } from './rules.js';

/**
 * Attributes of ops whose gradient rule needs none.
 *
 * @example
 * ```ts
 * const none: NoAttrs = {};
 * ```
 */
export type NoAttrs = Record<string, never>;

/**
 * Every differentiable op and the attributes its gradient rule receives.
 *
 * @example
 * ```ts
 * const attrs: OpAttrs['sum'] = { axes: [0], keepdim: false };
 * ```
 */
export interface OpAttrs {
  neg: NoAttrs; abs: NoAttrs; exp: NoAttrs; expm1: NoAttrs; log: NoAttrs; log1p: NoAttrs;
  sqrt: NoAttrs; rsqrt: NoAttrs; square: NoAttrs; reciprocal: NoAttrs; sin: NoAttrs; cos: NoAttrs;
  tanh: NoAttrs; sigmoid: NoAttrs; relu: NoAttrs; erf: NoAttrs;
  /** floor, ceil, round, sign: zero gradient almost everywhere. */
  stepwise: NoAttrs;
  add: NoAttrs; sub: NoAttrs; mul: NoAttrs; div: NoAttrs; pow: NoAttrs; maximum: NoAttrs;
  minimum: NoAttrs; mod: NoAttrs; atan2: NoAttrs;
  where: NoAttrs;
  sum: { axes: number[]; keepdim: boolean };
  prod: { axes: number[]; keepdim: boolean };
  /** max and min reductions (gradient shared evenly among ties, like torch.amax). */
  extreme: { axes: number[]; keepdim: boolean };
  reshape: NoAttrs;
  permute: { perm: number[] };
  expand: NoAttrs;
  slice: { starts: number[]; steps: number[] };
  matmul: NoAttrs;
  concat: { axis: number; sizes: number[] };
  gather: { axis: number };
  indexSelect: { axis: number };
  scatterAdd: { axis: number };
  softmax: NoAttrs;
  logSoftmax: NoAttrs;
  gelu: { approximate: 'none' | 'tanh' };
  layerNorm: { eps: number; hasWeight: boolean; hasBias: boolean };
  custom: { backward: (dy: Tensor, saved: Tensor[]) => (Tensor | null)[] };
}

/**
 * Name of a differentiable op (a key of {@link OpAttrs}).
 *
 * @example
 * ```ts
 * const op: OpName = 'matmul';
 * ```
 */
export type OpName = keyof OpAttrs;

function save(t: Tensor, withNode: boolean): SavedTensor {
  const node = withNode ? t.node?.retain() ?? null : null;
  return { storage: t.storage.retainSaved(), shape: t.shape, strides: t.strides, offset: t.offset, node, version: t.storage.version };
}

/**
 * Attaches a gradient node to `output` when needed, and returns `output`. Inputs that are
 * `null` (e.g. absent optional inputs) are skipped.
 */
export function record<K extends OpName>(op: K, inputs: readonly Tensor[], output: Tensor, attrs: OpAttrs[K]): Tensor {
  if (!isGradEnabled() || !isFloatDType(output.dtype)) return output;
  if (!inputs.some((t) => t.node !== null)) return output;
  const rule = gradRules[op];
  const savedInputs = inputs.map((t, i) => (rule.save.inputs === true || (Array.isArray(rule.save.inputs) && rule.save.inputs.includes(i)) ? save(t, true) : null));
  const savedOutput = rule.save.output ? save(output, false) : null;
  const node = new GradNode(op, inputs.map((t) => t.node), inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    attrs, { inputs: savedInputs, output: savedOutput }, null);
  output.setNode(node);
  return output;
}
