// SPDX-License-Identifier: MIT
// Inclusive scans along an axis: cumsum and cumprod (PyTorch semantics). Both are a log-step
// (Hillis-Steele) scan of narrow views, adds/muls and concats: ceil(log2(n)) steps, each one
// elementwise pass, on every backend with its primitives. Each output is a balanced tree of
// at most log2(n) roundings (float32 error ~ log2(n) ulp instead of a serial sum's n), and
// the gradient comes from the same differentiable ops: for cumprod it is a product of the
// other factors, never a division, so it is exact with zeros in the input (like PyTorch).
import { HeedError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { checkAxis } from '../validate.js';
import { commonBackend } from './operands.js';
import { binary, cast, clone } from './elementwise.js';
import { concat } from './join.js';
import { narrow, reshape } from './views.js';

function scan(op: 'cumsum' | 'cumprod', x: Tensor, axis: number): Tensor {
  commonBackend(op, [x]);
  if (typeof axis !== 'number') {
    throw new HeedError(op, `axis is required (an integer; PyTorch's dim), got ${String(axis)}.`);
  }
  if (x.rank === 0) {
    checkAxis(op, axis, 1);
    const r = reshape(x, [1]);
    const y = scan(op, r, 0);
    const out = reshape(y, []);
    r.dispose();
    y.dispose();
    return out;
  }
  const a = checkAxis(op, axis, x.rank);
  const kernel = op === 'cumsum' ? 'add' : 'mul';
  let y = x.dtype === 'bool' ? cast(x, 'int32') : clone(x);
  const n = x.shape[a];
  for (let s = 1; s < n; s *= 2) {
    const head = narrow(y, a, 0, s);
    const hi = narrow(y, a, s, n - s);
    const lo = narrow(y, a, 0, n - s);
    const combined = binary(kernel, hi, lo);
    const next = concat([head, combined], a);
    for (const t of [head, hi, lo, combined, y]) t.dispose();
    y = next;
  }
  return y;
}

/**
 * Cumulative sum along `axis` (torch.cumsum): `out[i] = x[0] + ... + x[i]`. Float tensors stay
 * float32; int32 and bool give int32.
 *
 * @example
 * ```ts
 * cumsum(tensor([1, 2, 3, 4]), 0); // [1, 3, 6, 10]
 * ```
 */
export function cumsum(x: Tensor, axis: number): Tensor {
  return scan('cumsum', x, axis);
}

/**
 * Cumulative product along `axis` (torch.cumprod): `out[i] = x[0] * ... * x[i]`. The gradient
 * is exact also where inputs are zero (no division). Float tensors stay float32; int32 and
 * bool give int32.
 *
 * @example
 * ```ts
 * cumprod(tensor([1, 2, 3, 4]), 0); // [1, 2, 6, 24]
 * ```
 */
export function cumprod(x: Tensor, axis: number): Tensor {
  return scan('cumprod', x, axis);
}
