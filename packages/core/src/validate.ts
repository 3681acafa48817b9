// SPDX-License-Identifier: MIT
// Argument checks for public entries: shapes and element counts, axes, integers and numbers,
// booleans, backend names and option objects (dtypes: checkDType in dtype.ts). TypeScript
// protects typed callers; these protect JavaScript callers and values read from JSON. Each check throws a HeedError
// naming the op, the bad value and the fix, before anything reaches a backend, so a bad
// argument can never leave a backend (or memory()) in a broken state.
import type { Backend } from './backend.js';
import type { DType } from './dtype.js';
import { HeedError, fmtShape } from './errors.js';
import { listBackends } from './registry.js';
import { normalizeAxes, normalizeAxis } from './shape.js';

/**
 * The most elements one tensor may have: 2^31 - 1. Heed's index dtype is int32, so every
 * element (and every position along an axis) must be addressable by an int32; this is also
 * within the TypedArray length limit of every JavaScript engine.
 *
 * @example
 * ```ts
 * zeros([2 ** 16, 2 ** 16]); // HeedError: zeros: shape [65536, 65536] has 4294967296 elements, more than MAX_NUMEL ...
 * ```
 */
export const MAX_NUMEL = 2 ** 31 - 1;

/** The int32 range, for values stored in int32 tensors. */
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * A short description of any value for error messages: strings quoted, arrays listed,
 * objects by their class, numbers as written (`NaN`, `Infinity`).
 *
 * @example
 * ```ts
 * describeValue('1'); // "'1' (a string)"
 * describeValue([2, NaN]); // '[2, NaN]'
 * ```
 */
export function describeValue(value: unknown): string {
  return describe(value, 0);
}

function describe(value: unknown, depth: number): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}' (a string)`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) {
    if (depth > 1) return '[...]';
    const items = value.slice(0, 8).map((v: unknown) => describe(v, depth + 1));
    return `[${items.join(', ')}${value.length > 8 ? ', ...' : ''}]`;
  }
  if (typeof value === 'function') return 'a function';
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/**
 * Throws unless `backend` stores `dtype`.
 *
 * @example
 * ```ts
 * checkBackendDType('zeros', getBackend(), 'int32');
 * ```
 */
export function checkBackendDType(op: string, backend: Backend, dtype: DType): void {
  if (!backend.capabilities.dtypes.includes(dtype)) {
    throw new HeedError(op, `backend '${backend.name}' does not support ${dtype} (it stores ${backend.capabilities.dtypes.join(', ')}).`);
  }
}

/**
 * Validates a user shape: an array of non-negative integers whose element count (and so each
 * dimension) is at most {@link MAX_NUMEL}. Returns a copy.
 *
 * @example
 * ```ts
 * checkShape('zeros', [2, 3]); // [2, 3]
 * checkShape('zeros', [2, -1]); // HeedError: zeros: invalid shape [2, -1]: dimension 1 is -1 ...
 * ```
 */
export function checkShape(op: string, shape: unknown, what = 'shape'): number[] {
  if (!Array.isArray(shape)) {
    throw new HeedError(op, `${what} must be an array of non-negative integers (e.g. [2, 3]), got ${describeValue(shape)}.`);
  }
  shape.forEach((d: unknown, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new HeedError(op, `invalid ${what} ${describeValue(shape)}: dimension ${i} is ${describeValue(d)}; ` +
        'every dimension must be a non-negative integer.');
    }
    if (d > MAX_NUMEL) {
      throw new HeedError(op, `invalid ${what} ${describeValue(shape)}: dimension ${i} is ${d}, more than MAX_NUMEL = ${MAX_NUMEL} ` +
        '(2^31 - 1, the most elements one tensor can hold).');
    }
  });
  const out = [...(shape as number[])];
  checkNumel(op, out, what);
  return out;
}

/**
 * Throws unless a (valid) shape has at most {@link MAX_NUMEL} elements; returns the count.
 * For shapes an op derives from its inputs (broadcasting, matmul, concat, oneHot...).
 *
 * @example
 * ```ts
 * checkNumel('add', [65536, 65536]); // HeedError: add: result shape [65536, 65536] has 4294967296 elements ...
 * ```
 */
export function checkNumel(op: string, shape: readonly number[], what = 'result shape'): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (n > MAX_NUMEL) {
    throw new HeedError(op, `${what} ${fmtShape(shape)} has ${n} elements, more than MAX_NUMEL = ${MAX_NUMEL} ` +
      '(2^31 - 1, the most one tensor can hold); use smaller sizes or split the work into pieces.');
  }
  return n;
}

/**
 * Range limits for {@link checkInt} and {@link checkNumber}.
 *
 * @example
 * ```ts
 * const r: NumberRange = { min: 0, max: 1 };
 * ```
 */
export interface NumberRange {
  /** Smallest allowed value (inclusive). */
  readonly min?: number;
  /** Largest allowed value (inclusive). */
  readonly max?: number;
}

function rangeText(range: NumberRange): string {
  if (range.min !== undefined && range.max !== undefined) return `in [${range.min}, ${range.max}]`;
  if (range.min !== undefined) return `>= ${range.min}`;
  return `<= ${range.max}`;
}

/**
 * Returns `value` if it is an integer (within `range`), else throws naming the op and `name`.
 *
 * @example
 * ```ts
 * checkInt('linspace', 'num', 5, { min: 0 }); // 5
 * ```
 */
export function checkInt(op: string, name: string, value: unknown, range: NumberRange = {}): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new HeedError(op, `${name} must be an integer, got ${describeValue(value)}.`);
  }
  if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
    throw new HeedError(op, `${name} must be an integer ${rangeText(range)}, got ${value}.`);
  }
  return value;
}

/**
 * Returns `value` if it is a number (finite unless `allowInfinite`; never NaN) within
 * `range`, else throws naming the op and `name`.
 *
 * @example
 * ```ts
 * checkNumber('dropout', 'p', 0.1, { min: 0, max: 1 }); // 0.1
 * ```
 */
export function checkNumber(op: string, name: string, value: unknown, range: NumberRange = {}, allowInfinite = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || (!allowInfinite && !Number.isFinite(value))) {
    throw new HeedError(op, `${name} must be a ${allowInfinite ? 'number (not NaN)' : 'finite number'}, got ${describeValue(value)}.`);
  }
  if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
    throw new HeedError(op, `${name} must be ${rangeText(range)}, got ${value}.`);
  }
  return value;
}

/**
 * Throws unless `value` can be stored in a tensor of `dtype`: any number for float32 and
 * bool; for int32 a number within the int32 range (not NaN or infinite; fractions truncate
 * toward zero, like a cast). `where` (e.g. `' at index [1, 2]'`) follows the value in the message.
 *
 * @example
 * ```ts
 * checkStorable('full', 'value', 1e10, 'int32'); // HeedError: full: value 10000000000 does not fit in int32 ...
 * ```
 */
export function checkStorable(op: string, name: string, value: number, dtype: DType, where = ''): void {
  if (dtype === 'int32' && !(value > INT32_MIN - 1 && value < INT32_MAX + 1)) {
    throw new HeedError(op, `${name} ${value}${where} does not fit in int32 (range ${INT32_MIN}..${INT32_MAX}); ` +
      "use dtype 'float32' or a smaller value.");
  }
}

/**
 * Returns `value` if it is a boolean or undefined, else throws naming the op and `name`.
 *
 * @example
 * ```ts
 * checkBoolean('sum', 'keepdim', true); // true
 * ```
 */
export function checkBoolean(op: string, name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new HeedError(op, `${name} must be true or false, got ${describeValue(value)}.`);
  }
  return value;
}

/**
 * Maps an axis of a tensor of `rank` to `[0, rank)` (negative counts from the end), or throws
 * naming the op; non-integers (strings, NaN, fractions) get a message of their own.
 *
 * @example
 * ```ts
 * checkAxis('softmax', -1, 3); // 2
 * ```
 */
export function checkAxis(op: string, axis: unknown, rank: number, what = 'axis'): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new HeedError(op, `${what} must be an integer, got ${describeValue(axis)}.`);
  }
  return normalizeAxis(axis, rank, op);
}

/**
 * Normalises an axis or a list of axes (all axes when undefined): sorted, without duplicates.
 *
 * @example
 * ```ts
 * checkAxes('sum', [-1, 0], 3); // [0, 2]
 * ```
 */
export function checkAxes(op: string, axes: unknown, rank: number): number[] {
  if (axes === undefined || axes === null) return normalizeAxes(undefined, rank, op);
  const list: unknown[] = typeof axes === 'number' ? [axes] : Array.isArray(axes) ? axes : [axes];
  if (typeof axes !== 'number' && !Array.isArray(axes)) {
    throw new HeedError(op, `axis must be an integer or an array of integers, got ${describeValue(axes)}.`);
  }
  for (const a of list) checkAxis(op, a, rank);
  return normalizeAxes(list as number[], rank, op);
}

/**
 * The valid keys of an options type `T`, as an exhaustive typed table (a key missing from
 * the table, or one `T` lacks, is a compile error).
 *
 * @example
 * ```ts
 * const KEYS: OptionKeys<{ axis?: number; keepdim?: boolean }> = { axis: true, keepdim: true };
 * ```
 */
export type OptionKeys<T> = { readonly [K in keyof T]-?: true };

/**
 * Whether `value` is a plain object (`{...}` or `Object.create(null)`), not an array, a
 * tensor or another class instance.
 *
 * @example
 * ```ts
 * isPlainObject({ axis: 0 }); // true
 * isPlainObject([0]); // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks an options argument: undefined or null (no options), or a plain object whose keys
 * (with a defined value) are all listed in `keys`. Returns the options (`{}` when absent).
 * Unknown keys raise a HeedError that lists the valid ones.
 *
 * @example
 * ```ts
 * checkOptions('sum', { axis: 0 }, { axis: true, keepdim: true }); // { axis: 0 }
 * checkOptions('sum', { dim: 0 }, { axis: true, keepdim: true }); // HeedError: sum: unknown option 'dim' ...
 * ```
 */
export function checkOptions<T extends object>(op: string, options: T | null | undefined, keys: OptionKeys<T>, what = 'options'): Partial<T> {
  if (options === undefined || options === null) return {};
  const valid = Object.keys(keys);
  if (!isPlainObject(options)) {
    throw new HeedError(op, `${what} must be an object with the keys ${valid.join(', ')}; got ${describeValue(options)}.`);
  }
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && !Object.prototype.hasOwnProperty.call(keys, key)) {
      throw new HeedError(op, `unknown option '${key}' in ${what}; the valid keys are ${valid.join(', ')}.`);
    }
  }
  return options;
}

/**
 * Returns `name` if a backend of that name is registered, else throws naming the op and the
 * registered backends.
 *
 * @example
 * ```ts
 * checkBackendName('to', 'cpu'); // 'cpu'
 * ```
 */
export function checkBackendName(op: string, name: unknown): string {
  const known = listBackends();
  if (typeof name !== 'string') {
    throw new HeedError(op, `backend must be the name of a registered backend (${known.join(', ') || 'none registered'}), got ${describeValue(name)}.`);
  }
  if (!known.includes(name)) {
    throw new HeedError(op, `no backend named '${name}' is registered (registered: ${known.length ? known.join(', ') : 'none'}). ` +
      "Call registerBackend(...) with its factory first, e.g. registerBackend(cpuBackend) from '@heed/backend-cpu'.");
  }
  return name;
}
