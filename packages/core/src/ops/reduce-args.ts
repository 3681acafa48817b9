// SPDX-License-Identifier: MIT
// The arguments of reductions: the option types, their exhaustive key tables, and the parsing
// of the two call forms, `(options)` and `(axis, restOptions)` (plus argmax/argmin's
// `(axis, keepdim)`). Everything a JavaScript caller passes is validated here; the
// reductions themselves (reduce.ts) receive normalised axes and a boolean keepdim.
import { HeedError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { checkAxes, checkAxis, checkBoolean, checkOptions, describeValue, isPlainObject, type OptionKeys } from '../validate.js';

/**
 * The axes of a reduction: one axis or a list (negative values count from the end).
 *
 * @example
 * ```ts
 * const a: AxisArg = [0, -1];
 * ```
 */
export type AxisArg = number | readonly number[];

/**
 * The options of a reduction that follow a positional axis: `sum(x, -1, { keepdim: true })`.
 *
 * @example
 * ```ts
 * sum(x, -1, { keepdim: true });
 * ```
 */
export interface KeepdimOptions {
  /** Keep reduced dimensions with size 1 (default false). */
  keepdim?: boolean;
}

/**
 * Options shared by reductions.
 *
 * @example
 * ```ts
 * sum(x, { axis: [0, 2], keepdim: true });
 * ```
 */
export interface ReduceOptions extends KeepdimOptions {
  /** Axis or axes to reduce (default: all). Negative values count from the end. */
  axis?: AxisArg;
}

/** @internal */
export const KEEPDIM_KEYS: OptionKeys<KeepdimOptions> = { keepdim: true };
/** @internal */
export const REDUCE_KEYS: OptionKeys<ReduceOptions> = { axis: true, keepdim: true };

/** @internal A reduction's arguments, validated: normalised axes, keepdim, and the options object. */
export interface ReduceArgs<T> {
  axes: number[];
  keepdim: boolean;
  options: Partial<T>;
}

/**
 * @internal Reads `(options)` or `(axis, restOptions)`: the two call forms of every reduction. A number
 * or an array first is the axis; an object first is the options (then nothing may follow).
 */
export function reduceArgs<T extends ReduceOptions, R extends KeepdimOptions>(op: string, x: Tensor, first: unknown, second: unknown,
  keys: OptionKeys<T>, restKeys: OptionKeys<R>): ReduceArgs<T> {
  let options: Partial<T>;
  if (first === undefined || first === null || typeof first === 'number' || Array.isArray(first)) {
    if (isPlainObject(second) && second.axis !== undefined) {
      throw new HeedError(op, `the axis is given twice: ${describeValue(first)} as the first argument and ${describeValue(second.axis)} ` +
        'in the options; pass it once.');
    }
    options = { ...checkOptions(op, second as R | undefined, restKeys), axis: first ?? undefined } as Partial<T>;
  } else if (isPlainObject(first)) {
    if (second !== undefined) {
      throw new HeedError(op, `got a second argument (${describeValue(second)}) after an options object; pass one object ` +
        `({ axis, keepdim }) or the axis first: ${op}(x, axis, { keepdim }).`);
    }
    options = checkOptions(op, first as T, keys);
  } else {
    throw new HeedError(op, `expected an axis (an integer or an array of integers) or an options object { axis, keepdim }, ` +
      `got ${describeValue(first)}.`);
  }
  const axes = checkAxes(op, options.axis, x.rank);
  const keepdim = checkBoolean(op, 'keepdim', options.keepdim) ?? false;
  return { axes, keepdim, options };
}

/**
 * The options of {@link variance} and {@link std} that follow a positional axis.
 *
 * @example
 * ```ts
 * variance(x, -1, { correction: 0 }); // population variance over the last axis
 * ```
 */
export interface CorrectionOptions extends KeepdimOptions {
  /** Subtracted from the count in the denominator (1 = unbiased, the default; 0 = population). */
  correction?: number;
}

/**
 * Options for {@link variance} and {@link std}.
 *
 * @example
 * ```ts
 * variance(x, { axis: -1, correction: 0 }); // population variance
 * ```
 */
export interface VarianceOptions extends ReduceOptions, CorrectionOptions {}

/** @internal */
export const CORRECTION_KEYS: OptionKeys<CorrectionOptions> = { keepdim: true, correction: true };
/** @internal */
export const VARIANCE_KEYS: OptionKeys<VarianceOptions> = { axis: true, keepdim: true, correction: true };

/**
 * Options of {@link argmax} and {@link argmin}: one axis (default: the flattened tensor).
 *
 * @example
 * ```ts
 * argmax(x, { axis: -1, keepdim: true });
 * ```
 */
export interface ArgReduceOptions extends KeepdimOptions {
  /** The one axis to reduce (default: the flattened tensor). Negative counts from the end. */
  axis?: number;
}

/** @internal */
export const ARG_KEYS: OptionKeys<ArgReduceOptions> = { axis: true, keepdim: true };

/** @internal Reads `(options)` or `(axis, keepdim | { keepdim })` of argmax/argmin. */
export function argArgs(op: string, x: Tensor, first: unknown, second: unknown): { axis: number | undefined; keepdim: boolean } {
  let axis: unknown;
  let keepdim: unknown;
  if (isPlainObject(first)) {
    if (second !== undefined) {
      throw new HeedError(op, `got a second argument (${describeValue(second)}) after an options object; pass one object ({ axis, keepdim }).`);
    }
    ({ axis, keepdim } = checkOptions(op, first as ArgReduceOptions, ARG_KEYS));
  } else {
    axis = first ?? undefined;
    keepdim = isPlainObject(second) ? checkOptions(op, second as KeepdimOptions, KEEPDIM_KEYS).keepdim : second;
  }
  if (Array.isArray(axis)) {
    throw new HeedError(op, `${op} reduces one axis (or the flattened tensor), got axis ${describeValue(axis)}; ` +
      `flatten those axes first, or call ${op} once per axis.`);
  }
  return {
    axis: axis === undefined ? undefined : checkAxis(op, axis, x.rank),
    keepdim: checkBoolean(op, 'keepdim', keepdim) ?? false,
  };
}
