// SPDX-License-Identifier: MIT
// Printing tensors the way PyTorch does (`str(torch.tensor(...))`): one width for every
// element, 4 decimals, scientific notation when the range needs it, integers shown as `1.`,
// more than 1000 elements summarised with `...` and 3 edge items per dimension, lines wrapped
// at 80 columns, and suffixes for what the values do not say (`requires_grad=True`, device,
// non-default dtype). Pure: takes the values, shape and dtype, knows nothing of backends.
// Numbers are rounded from their exact binary value, half to even (as Python's `format`
// does), not with `toFixed`, which rounds exact ties away from zero.
import type { DType } from './dtype.js';
import { HeedError } from './errors.js';
import type { Shape } from './shape.js';

/**
 * Options of tensor printing (see {@link setPrintOptions}); the defaults are PyTorch's.
 *
 * @example
 * ```ts
 * const opts: PrintOptions = { ...getPrintOptions(), precision: 2 };
 * ```
 */
export interface PrintOptions {
  /** Digits after the decimal point (default 4). */
  readonly precision: number;
  /** Tensors with more elements than this are summarised with `...` (default 1000). */
  readonly threshold: number;
  /** Items shown at each end of a summarised dimension (default 3). */
  readonly edgeItems: number;
  /** Characters per line before wrapping (default 80). */
  readonly lineWidth: number;
  /** Force scientific notation on (true) or off (false); null chooses by the range (default). */
  readonly sciMode: boolean | null;
}

const DEFAULTS: PrintOptions = { precision: 4, threshold: 1000, edgeItems: 3, lineWidth: 80, sciMode: null };
let options: PrintOptions = DEFAULTS;

/**
 * Changes how tensors print (like `torch.set_printoptions`); omitted fields keep their value,
 * and `setPrintOptions('default')` restores PyTorch's defaults.
 *
 * @example
 * ```ts
 * setPrintOptions({ precision: 2 });
 * String(tensor([1 / 3])); // 'tensor([0.33])'
 * setPrintOptions('default');
 * ```
 */
export function setPrintOptions(update: Partial<PrintOptions> | 'default'): void {
  if (update === 'default') {
    options = DEFAULTS;
    return;
  }
  const next = { ...options, ...update };
  const checks: [keyof PrintOptions, number, number][] = [['precision', 0, 20], ['threshold', 0, Infinity], ['edgeItems', 0, Infinity], ['lineWidth', 1, Infinity]];
  for (const [key, min, max] of checks) {
    const v = next[key] as number;
    if (!Number.isInteger(v) && v !== Infinity) {
      throw new HeedError('setPrintOptions', `${key} must be an integer, got ${String(v)}.`);
    }
    if (v < min || v > max) throw new HeedError('setPrintOptions', `${key} must be in [${min}, ${max}], got ${v}.`);
  }
  if (next.sciMode !== null && typeof next.sciMode !== 'boolean') {
    throw new HeedError('setPrintOptions', `sciMode must be true, false or null, got ${String(next.sciMode)}.`);
  }
  options = next;
}

/**
 * The current print options.
 *
 * @example
 * ```ts
 * getPrintOptions().precision; // 4
 * ```
 */
export function getPrintOptions(): PrintOptions {
  return options;
}

// ---- exact decimal rounding ------------------------------------------------------------

/** |x| (finite, non-zero) as an integer `digits` times 10^-scale, exactly. */
function exactDecimal(x: number): { digits: bigint; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exp2 = (biased === 0 ? 1 : biased) - 1075;
  if (exp2 >= 0) return { digits: mantissa << BigInt(exp2), scale: 0 };
  return { digits: mantissa * 5n ** BigInt(-exp2), scale: -exp2 };
}

/** round(d / 10^k), halves to even. */
function roundShift(d: bigint, k: number): bigint {
  if (k <= 0) return d * 10n ** BigInt(-k);
  const p = 10n ** BigInt(k);
  const q = d / p;
  const twice = (d % p) * 2n;
  return twice > p || (twice === p && q % 2n === 1n) ? q + 1n : q;
}

function signOf(x: number): string {
  return x < 0 || Object.is(x, -0) ? '-' : '';
}

function nonFinite(x: number): string | null {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return null;
}

/** @internal Python's `'{:.Nf}'.format(x)`. */
export function formatFixed(x: number, decimals: number): string {
  const special = nonFinite(x);
  if (special) return special;
  let body: string;
  if (x === 0) {
    body = decimals > 0 ? `0.${'0'.repeat(decimals)}` : '0';
  } else {
    const { digits, scale } = exactDecimal(x);
    const s = roundShift(digits, scale - decimals).toString().padStart(decimals + 1, '0');
    body = decimals > 0 ? `${s.slice(0, -decimals)}.${s.slice(-decimals)}` : s;
  }
  return signOf(x) + body;
}

/** @internal Python's `'{:.Ne}'.format(x)`. */
export function formatScientific(x: number, decimals: number): string {
  const special = nonFinite(x);
  if (special) return special;
  let mantissa: string;
  let exponent = 0;
  if (x === 0) {
    mantissa = '0'.repeat(decimals + 1);
  } else {
    const { digits, scale } = exactDecimal(x);
    const length = digits.toString().length;
    exponent = length - 1 - scale;
    let n = roundShift(digits, length - (decimals + 1));
    if (n.toString().length > decimals + 1) { // 9.99995 -> 10.0000: one more digit
      n /= 10n;
      exponent += 1;
    }
    mantissa = n.toString();
  }
  const m = decimals > 0 ? `${mantissa[0]}.${mantissa.slice(1)}` : mantissa;
  const e = `${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return `${signOf(x)}${m}e${e}`;
}

// ---- element formatter (one width for the whole tensor) --------------------------------

interface ElementFormatter {
  readonly width: number;
  format(v: number): string;
}

function elementFormatter(values: readonly number[], dtype: DType, opts: PrintOptions): ElementFormatter {
  const pad = (s: string, width: number) => s.padStart(width);
  if (dtype === 'bool') {
    const width = values.reduce((w, v) => Math.max(w, v ? 4 : 5), 1);
    return { width, format: (v) => pad(v ? 'True' : 'False', width) };
  }
  if (dtype === 'int32') {
    const width = values.reduce((w, v) => Math.max(w, String(v).length), 1);
    return { width, format: (v) => pad(String(v), width) };
  }
  const p = opts.precision;
  const finite = values.filter((v) => Number.isFinite(v) && v !== 0);
  let intMode = true;
  let sci = false;
  let width = 1;
  if (finite.length > 0) {
    let max = 0;
    let min = Infinity;
    for (const v of finite) {
      max = Math.max(max, Math.abs(v));
      min = Math.min(min, Math.abs(v));
    }
    intMode = finite.every((v) => Number.isInteger(v));
    sci = max / min > 1000 || max > 1e8 || (!intMode && min < 1e-4);
    for (const v of finite) {
      const len = sci ? formatScientific(v, p).length : intMode ? formatFixed(v, 0).length + 1 : formatFixed(v, p).length;
      width = Math.max(width, len);
    }
  }
  if (opts.sciMode !== null) sci = opts.sciMode;
  const format = (v: number): string => {
    if (sci) return formatScientific(v, p);
    if (intMode) return formatFixed(v, 0) + (Number.isFinite(v) ? '.' : '');
    return formatFixed(v, p);
  };
  return { width, format: (v) => pad(format(v), width) };
}

// ---- layout ---------------------------------------------------------------------------

/**
 * @internal The printed part of each dimension: the whole dimension, or (when the tensor is
 * summarised and the dimension longer than twice the edge items) its first and last
 * `edgeItems` indices. Shown values are passed row-major over the shown indices only.
 */
export function shownSegments(shape: Shape, opts: PrintOptions = options): [start: number, length: number][][] {
  const summarize = shape.reduce((a, b) => a * b, 1) > opts.threshold;
  const edge = opts.edgeItems;
  return shape.map((n) => (summarize && n > 2 * edge ? [[0, edge], [n - edge, edge]] : [[0, n]]));
}

function render(values: ArrayLike<number>, shape: Shape, fmt: ElementFormatter, indent: number, opts: PrintOptions): string {
  if (shape.length === 0) return fmt.format(values[0]);
  const segments = shownSegments(shape, opts);
  const counts = segments.map((segs) => segs.reduce((a, [, len]) => a + len, 0));
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, step = 1; d >= 0; d--) {
    strides[d] = step;
    step *= counts[d];
  }
  const edge = opts.edgeItems;
  const block = (dim: number, base: number, ind: number): string => {
    const elided = segments[dim].length > 1;
    const head = elided ? edge : counts[dim];
    const at = (i: number) => base + i * strides[dim];
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    if (dim === shape.length - 1) {
      const items = range(0, head).map((i) => fmt.format(values[at(i)]));
      if (elided) items.push(edge === 0 ? '...' : ' ...', ...range(edge, 2 * edge).map((i) => fmt.format(values[at(i)])));
      const perLine = Math.max(1, Math.floor((opts.lineWidth - ind) / (fmt.width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(ind + 1)}`)}]`;
    }
    const rows = range(0, head).map((i) => block(dim + 1, at(i), ind + 1));
    if (elided) rows.push('...', ...range(edge, 2 * edge).map((i) => block(dim + 1, at(i), ind + 1)));
    return `[${rows.join(`,${'\n'.repeat(shape.length - dim - 1)}${' '.repeat(ind + 1)}`)}]`;
  };
  return block(0, 0, indent);
}

/**
 * @internal What a printed tensor shows besides its values.
 */
export interface TensorDescription {
  readonly shape: Shape;
  readonly dtype: DType;
  /**
   * The shown values (see {@link shownSegments}; all of them unless summarised), row-major,
   * or null when they cannot be read synchronously.
   */
  readonly values: ArrayLike<number> | null;
  /** Why the values are missing, shown in their place (default: how to read them). */
  readonly note?: string;
  /** The backend name, shown when not 'cpu'. */
  readonly device: string;
  readonly requiresGrad: boolean;
  /** The op that made a non-leaf, e.g. 'mul' (shown as `grad_fn=<MulBackward>`). */
  readonly gradFn: string | null;
  readonly disposed: boolean;
}

// Dtypes printed without a dtype= suffix when the values show it (like torch's float32,
// int64 and bool): float values print with a '.', integers without, booleans as True/False.
const IMPLIED_DTYPE: Record<DType, boolean> = { float32: true, int32: true, bool: true };

function withSuffixes(body: string, suffixes: readonly string[], indent: number, lineWidth: number): string {
  const parts = [body];
  let lastLine = body.length - body.lastIndexOf('\n') + 1;
  for (const s of suffixes) {
    if (lastLine + s.length + 2 > lineWidth) {
      parts.push(`,\n${' '.repeat(indent)}${s}`);
      lastLine = indent + s.length;
    } else {
      parts.push(`, ${s}`);
      lastLine += s.length + 2;
    }
  }
  parts.push(')');
  return parts.join('');
}

/**
 * @internal The PyTorch-style string of a tensor, e.g. `tensor([[1., 2.],\n        [3., 4.]])`.
 */
export function formatTensor(t: TensorDescription, opts: PrintOptions = options): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  const size = t.shape.reduce((a, b) => a * b, 1);
  const suffixes: string[] = [];
  if (t.device !== 'cpu') suffixes.push(`device='${t.device}'`);
  let body: string;
  if (t.disposed || t.values === null) {
    suffixes.unshift(`size=[${t.shape.join(', ')}]`, `dtype=${t.dtype}`);
    body = t.disposed ? '<disposed>' : `<${t.note ?? 'values not readable synchronously: use await t.print()'}>`;
  } else if (size === 0) {
    if (t.shape.length !== 1) suffixes.push(`size=[${t.shape.join(', ')}]`);
    if (t.dtype !== 'float32') suffixes.push(`dtype=${t.dtype}`);
    body = '[]';
  } else {
    if (!IMPLIED_DTYPE[t.dtype]) suffixes.push(`dtype=${t.dtype}`);
    body = render(t.values, t.shape, elementFormatter(Array.from(t.values), t.dtype, opts), indent, opts);
  }
  if (t.gradFn) suffixes.push(`grad_fn=<${t.gradFn[0].toUpperCase()}${t.gradFn.slice(1)}Backward>`);
  else if (t.requiresGrad) suffixes.push('requires_grad=True');
  return withSuffixes(prefix + body, suffixes, indent, opts.lineWidth);
}
