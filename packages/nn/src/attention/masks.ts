// SPDX-License-Identifier: MIT
// Attention masks: PyTorch's causal mask generator, and the normalisation of nn.MultiheadAttention's
// mask arguments into one internal form. PyTorch's MHA conventions: a bool `attnMask` marks
// positions that may NOT be attended (true = masked), a bool `keyPaddingMask` marks keys to
// ignore, float masks are added to the scores.
// Invariants: the internal form is `{ valid, additive }`, both broadcastable to
// `[N, H, L, S]`: `valid` is bool with true = may attend (null = all), `additive` float (null =
// none); -inf entries of additive masks are also reflected in `valid`, so rows with nothing to
// attend are detected (and give zeros, not NaN) whatever the mask kind.
import { HeedError, arange, fmtShape, full, noGrad, tidy, where, type Tensor } from '@heed/core';

/**
 * The float causal mask `[size, size]` of `nn.Transformer.generate_square_subsequent_mask`:
 * `-inf` above the diagonal (future positions), 0 elsewhere.
 *
 * @example
 * ```ts
 * await generateSquareSubsequentMask(3).array(); // [[0, -inf, -inf], [0, 0, -inf], [0, 0, 0]]
 * ```
 */
export function generateSquareSubsequentMask(size: number, options: { backend?: string } = {}): Tensor {
  if (!Number.isInteger(size) || size < 0) throw new HeedError('generateSquareSubsequentMask', `size must be a non-negative integer, got ${size}.`);
  return noGrad(() => tidy(() => where(causalValid(size, size, 0, options.backend), 0, full([size, size], -Infinity, { backend: options.backend }))));
}

/**
 * Bool `[L, S]`, true where query `l` may see key `s`: `s <= l + offset`. `offset` is the
 * number of earlier (cached) positions, so with a kv-cache the last query sees every key.
 *
 * @example
 * ```ts
 * await causalValid(2, 3, 1).array(); // [[true, true, false], [true, true, true]]
 * ```
 */
export function causalValid(L: number, S: number, offset = 0, backend?: string): Tensor {
  return noGrad(() => tidy(() => {
    const rows = arange(L, undefined, 1, { backend }).add(offset).reshape([L, 1]);
    const cols = arange(S, undefined, 1, { backend }).reshape([1, S]);
    return cols.le(rows);
  }));
}

/**
 * Masks of one attention call in the internal form (see the file comment).
 *
 * @example
 * ```ts
 * const m: AttentionMasks = { valid: null, additive: null };
 * ```
 */
export interface AttentionMasks {
  /** Bool, true = may attend; broadcastable to `[N, H, L, S]`; null = everything allowed. */
  valid: Tensor | null;
  /** Float added to the scores; broadcastable to `[N, H, L, S]`; null = none. */
  additive: Tensor | null;
}

/**
 * What {@link normalizeMasks} needs to know about the call.
 *
 * @example
 * ```ts
 * const d: MaskDims = { N: 2, H: 4, L: 5, S: 5, batched: true, causalOffset: 0, backend: 'cpu' };
 * ```
 */
export interface MaskDims {
  N: number;
  H: number;
  L: number;
  S: number;
  /** Whether the user's input had a batch axis (3-D attnMask is `[N*H, L, S]` or `[H, L, S]`). */
  batched: boolean;
  /** Earlier positions for `isCausal` (the kv-cache length). */
  causalOffset: number;
  /** Backend of the query (for the causal mask). */
  backend: string;
}

function checkDType(op: string, name: string, m: Tensor): void {
  if (m.dtype !== 'bool' && m.dtype !== 'float32') throw new HeedError(op, `${name} must be bool or float32, got ${m.dtype}.`);
}

/**
 * Turns PyTorch-convention masks into `{ valid, additive }` shaped for `[N, H, L, S]`. Call inside
 * a tidy scope: the results are temporaries.
 *
 * @example
 * ```ts
 * const { valid, additive } = normalizeMasks('MultiheadAttention', { attnMask, keyPaddingMask, isCausal: false }, dims);
 * ```
 */
export function normalizeMasks(
  op: string,
  masks: { attnMask?: Tensor | null; keyPaddingMask?: Tensor | null; isCausal?: boolean },
  d: MaskDims,
): AttentionMasks {
  let valid: Tensor | null = null;
  let additive: Tensor | null = null;
  const andValid = (v: Tensor) => { valid = valid ? valid.logicalAnd(v) : v; };
  const addAdditive = (a: Tensor) => { additive = additive ? additive.add(a) : a; };
  const take = (m: Tensor, shaped: Tensor) => {
    if (m.dtype === 'bool') {
      andValid(shaped.logicalNot());
    } else {
      addAdditive(shaped);
      andValid(shaped.gt(-Infinity));
    }
  };

  const am = masks.attnMask ?? null;
  if (am) {
    checkDType(op, 'attnMask', am);
    if (am.rank === 2) {
      if (am.shape[0] !== d.L || am.shape[1] !== d.S) {
        throw new HeedError(op, `2-D attnMask must be [L, S] = [${d.L}, ${d.S}], got ${fmtShape(am.shape)}.`);
      }
      take(am, am);
    } else if (am.rank === 3) {
      const lead = d.batched ? d.N * d.H : d.H;
      if (am.shape[0] !== lead || am.shape[1] !== d.L || am.shape[2] !== d.S) {
        throw new HeedError(op, `3-D attnMask must be [${d.batched ? 'N*H' : 'H'}, L, S] = [${lead}, ${d.L}, ${d.S}], got ${fmtShape(am.shape)}.`);
      }
      take(am, am.reshape([d.N, d.H, d.L, d.S]));
    } else {
      throw new HeedError(op, `attnMask must be 2-D [L, S] or 3-D [N*H, L, S], got ${fmtShape(am.shape)}.`);
    }
  }

  const kpm = masks.keyPaddingMask ?? null;
  if (kpm) {
    checkDType(op, 'keyPaddingMask', kpm);
    const want = d.batched ? [d.N, d.S] : [d.S];
    if (kpm.rank !== want.length || kpm.shape.some((s, i) => s !== want[i])) {
      throw new HeedError(op, `keyPaddingMask must be ${fmtShape(want)} (${d.batched ? '[N, S]' : '[S]'}), got ${fmtShape(kpm.shape)}.`);
    }
    take(kpm, kpm.reshape([d.N, 1, 1, d.S]));
  }

  if (masks.isCausal) andValid(causalValid(d.L, d.S, d.causalOffset, d.backend));
  return { valid, additive };
}
