// SPDX-License-Identifier: MIT
// Assertions of the suite, independent of any test runner (so the case list can be imported
// by plain Node scripts): they throw a ConformanceError whose message shows the first
// mismatching elements with their indices. NaN equals NaN; infinities must match exactly.
import { HeedError, fmtShape, type DType, type Tensor } from '@heed/core';

/**
 * A failed conformance check.
 *
 * @example
 * ```ts
 * throw new ConformanceError('values differ at [0]: got 1, want 2');
 * ```
 */
export class ConformanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceError';
  }
}

/**
 * Throws a {@link ConformanceError} with `message` unless `condition` holds.
 *
 * @example
 * ```ts
 * ensure(t.dtype === 'bool', () => `expected bool, got ${t.dtype}`);
 * ```
 */
export function ensure(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new ConformanceError(typeof message === 'function' ? message() : message);
}

/**
 * A tensor read back to the host.
 *
 * @example
 * ```ts
 * const h: HostTensor = { shape: [2], dtype: 'float32', values: [1, 2] };
 * ```
 */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly values: readonly number[];
}

/**
 * Reads `t` (asynchronously, as every backend supports) into a {@link HostTensor}.
 *
 * @example
 * ```ts
 * const h = await readHost(x);
 * ```
 */
export async function readHost(t: Tensor): Promise<HostTensor> {
  const shape = [...t.shape];
  const dtype = t.dtype;
  const data = await t.data();
  return { shape, dtype, values: Array.from(data) };
}

/**
 * Whether `got` is within tolerance of `want` (NaN matches NaN; infinities match exactly).
 *
 * @example
 * ```ts
 * closeTo(1.00001, 1, 1e-4, 0); // true
 * ```
 */
export function closeTo(got: number, want: number, rtol: number, atol: number): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  if (!Number.isFinite(got)) return false;
  return Math.abs(got - want) <= atol + rtol * Math.abs(want);
}

/**
 * Checks shape, dtype and values of `got` against `want`; floats within (rtol, atol), ints and
 * bools exactly. The error lists up to 6 mismatches with their multi-indices.
 *
 * @example
 * ```ts
 * assertTensorClose('output 0', await readHost(y), { shape: [2], dtype: 'float32', values: [1, 2] }, 1e-4, 1e-5);
 * ```
 */
export function assertTensorClose(label: string, got: HostTensor, want: HostTensor, rtol: number, atol: number): void {
  ensure(got.shape.length === want.shape.length && got.shape.every((d, i) => d === want.shape[i]),
    () => `${label}: shape ${fmtShape(got.shape)}, want ${fmtShape(want.shape)}`);
  ensure(got.dtype === want.dtype, () => `${label}: dtype ${got.dtype}, want ${want.dtype}`);
  ensure(got.values.length === want.values.length,
    () => `${label}: read ${got.values.length} values, want ${want.values.length} (shape ${fmtShape(want.shape)})`);
  const exact = want.dtype !== 'float32';
  const bad: string[] = [];
  let count = 0;
  let worst = 0;
  for (let i = 0; i < want.values.length; i++) {
    const g = got.values[i];
    const w = want.values[i];
    const ok = exact ? g === w : closeTo(g, w, rtol, atol);
    if (!ok) {
      count++;
      if (Number.isFinite(g) && Number.isFinite(w)) worst = Math.max(worst, Math.abs(g - w) / (atol + rtol * Math.abs(w)));
      if (bad.length < 6) bad.push(`[${unravel(i, want.shape).join(', ')}] got ${g}, want ${w}`);
    }
  }
  ensure(count === 0, () => `${label}: ${count} of ${want.values.length} values differ ` +
    `(${exact ? 'exact' : `rtol ${rtol}, atol ${atol}; worst ${worst.toFixed(1)}x the tolerance`}), ` +
    `shape ${fmtShape(want.shape)} ${want.dtype}:\n  ${bad.join('\n  ')}`);
}

/**
 * The multi-index of flat position `i` in a row-major `shape`.
 *
 * @example
 * ```ts
 * unravel(5, [2, 3]); // [1, 2]
 * ```
 */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  let f = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = shape[d] > 0 ? f % shape[d] : 0;
    f = shape[d] > 0 ? Math.floor(f / shape[d]) : 0;
  }
  return idx;
}

/**
 * Runs `fn`, requires it to throw a HeedError, and checks that the message contains every
 * string of `mentions` (the op name, shapes, dtypes...). Returns the error.
 *
 * @example
 * ```ts
 * expectHeedError(() => add(a, b), ['add', '[2, 3]', '[4]']);
 * ```
 */
export function expectHeedError(fn: () => unknown, mentions: readonly string[]): HeedError {
  let thrown: unknown = null;
  let returned = false;
  try {
    const r = fn();
    returned = true;
    if (r && typeof r === 'object' && 'dispose' in r && typeof (r as { dispose: unknown }).dispose === 'function') {
      (r as { dispose(): void }).dispose();
    }
  } catch (e) {
    thrown = e;
  }
  ensure(!returned, `expected a HeedError mentioning ${mentions.map((m) => `'${m}'`).join(', ')}, but the call returned normally`);
  ensure(thrown instanceof HeedError,
    () => `expected a HeedError, got ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`);
  const missing = mentions.filter((m) => !thrown.message.includes(m));
  ensure(missing.length === 0, () => `the HeedError message should mention ${missing.map((m) => `'${m}'`).join(', ')}: "${thrown.message}"`);
  return thrown;
}
