// SPDX-License-Identifier: MIT
// Rotary position embedding (RoPE, Su et al. 2021): rotates pairs of query/key features by
// angle `p * base^(-2i/dim)` for position p, so q·k depends on relative position only.
// Two pairings: 'half' (GPT-NeoX / LLaMA `rotate_half`: feature i pairs with i + dim/2) and
// 'interleaved' (GPT-J / the paper: features 2i and 2i+1).
// Invariants: only the first `dim` features of the last axis rotate (the rest pass through);
// positions are offset..offset+L-1 along axis -2; the cos/sin tables are non-persistent
// buffers computed in float64; applying with positions beyond `maxLen` throws.
import { HeedError, concat, fmtShape, stack, tensor, tidy, type Tensor } from '@heed/core';
import { Module, buffer } from '../module.js';

/**
 * How RoPE pairs features.
 *
 * @example
 * ```ts
 * const s: RotaryStyle = 'interleaved';
 * ```
 */
export type RotaryStyle = 'half' | 'interleaved';

/**
 * Options of {@link RotaryEmbedding}.
 *
 * @example
 * ```ts
 * new RotaryEmbedding(64, { base: 10000, maxLen: 4096, style: 'half' });
 * ```
 */
export interface RotaryOptions {
  /** Frequency base (default 10000). */
  base?: number;
  /** Longest position + 1 (default 2048). */
  maxLen?: number;
  /** Feature pairing (default 'half'). */
  style?: RotaryStyle;
}

/**
 * Options of {@link RotaryEmbedding.rotate}.
 *
 * @example
 * ```ts
 * rope.rotate(q, { offset: cache.length });
 * ```
 */
export interface RotaryApplyOptions {
  /** Position of the first row (default 0). */
  offset?: number;
  /**
   * Explicit int32 positions instead of `offset`: `[L]`, or `[N, L]` / `[1, L]` with one row per
   * entry of x's first axis (e.g. per batch row of left-padded sequences, like HF's `position_ids`).
   */
  positions?: Tensor;
}

/**
 * Rotary position embedding. Apply it to queries and keys `[..., L, headDim]` (per head) before
 * the dot product; `MultiheadAttention.forward` does so with its `rotary` option.
 *
 * @example
 * ```ts
 * const rope = new RotaryEmbedding(16);
 * const qr = rope.rotate(q); // q: [N, H, L, 16]
 * ```
 */
export class RotaryEmbedding extends Module {
  /** `cos(p * invFreq[i])`, `[maxLen, dim/2]` (non-persistent buffer). */
  cos: Tensor;
  /** `sin(p * invFreq[i])`, `[maxLen, dim/2]` (non-persistent buffer). */
  sin: Tensor;
  /** Feature pairing. */
  readonly style: RotaryStyle;

  constructor(readonly dim: number, options: RotaryOptions = {}) {
    super();
    if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0) throw new HeedError('RotaryEmbedding', `dim must be a positive even integer, got ${dim}.`);
    const base = options.base ?? 10000;
    const maxLen = options.maxLen ?? 2048;
    this.style = options.style ?? 'half';
    if (this.style !== 'half' && this.style !== 'interleaved') {
      throw new HeedError('RotaryEmbedding', `style must be 'half' or 'interleaved', got '${String(this.style)}'.`);
    }
    const half = dim / 2;
    const cos = new Float32Array(maxLen * half);
    const sin = new Float32Array(maxLen * half);
    for (let p = 0; p < maxLen; p++) {
      for (let i = 0; i < half; i++) {
        const angle = p * Math.pow(base, (-2 * i) / dim);
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    this.cos = buffer(tensor(cos, { shape: [maxLen, half] }), { persistent: false });
    this.sin = buffer(tensor(sin, { shape: [maxLen, half] }), { persistent: false });
  }

  /** Longest supported position + 1. */
  get maxLen(): number {
    return this.cos.shape[0];
  }

  /**
   * Rotates `x [..., L, D]` (D >= dim) for positions `offset..offset+L-1`.
   *
   * @example
   * ```ts
   * const k2 = rope.rotate(k, { offset: 5 });
   * ```
   */
  rotate(x: Tensor, options: RotaryApplyOptions = {}): Tensor {
    const offset = options.offset ?? 0;
    if (x.rank < 2 || x.shape[x.rank - 1] < this.dim) {
      throw new HeedError('RotaryEmbedding', `expects [..., L, D] with D >= ${this.dim}, got ${fmtShape(x.shape)}.`);
    }
    const L = x.shape[x.rank - 2];
    const D = x.shape[x.rank - 1];
    if (!Number.isInteger(offset) || offset < 0 || offset + L > this.maxLen) {
      throw new HeedError('RotaryEmbedding', `positions ${offset}..${offset + L - 1} exceed maxLen ${this.maxLen}.`);
    }
    const half = this.dim / 2;
    const pos = options.positions;
    if (pos !== undefined && (pos.dtype !== 'int32' || pos.shape.at(-1) !== L || pos.rank > 2 || (pos.rank === 2 && (x.rank < 3 || (pos.shape[0] !== x.shape[0] && pos.shape[0] !== 1))))) {
      throw new HeedError('RotaryEmbedding', `positions must be int32 [${L}] or [${x.rank >= 3 ? x.shape[0] : 'N'}, ${L}] for x ${fmtShape(x.shape)}, got ${pos.dtype} ${fmtShape(pos.shape)}.`);
    }
    return tidy(() => {
      // Rows of the tables for the positions, shaped to broadcast against x [..., L, half].
      const rows = (table: Tensor): Tensor => {
        if (pos === undefined) return table.narrow(0, offset, L);
        const picked = table.indexSelect(0, pos.reshape([pos.size]));
        return pos.rank === 1 ? picked : picked.reshape([pos.shape[0], ...new Array<number>(x.rank - 3).fill(1), L, half]);
      };
      const cos = rows(this.cos);
      const sin = rows(this.sin);
      const rot = D > this.dim ? x.narrow(-1, 0, this.dim) : x;
      let out: Tensor;
      if (this.style === 'half') {
        const a = rot.narrow(-1, 0, half);
        const b = rot.narrow(-1, half, half);
        out = concat([a.mul(cos).sub(b.mul(sin)), b.mul(cos).add(a.mul(sin))], -1);
      } else {
        const pairs = rot.reshape([...rot.shape.slice(0, -1), half, 2]);
        const a = pairs.select(-1, 0);
        const b = pairs.select(-1, 1);
        out = stack([a.mul(cos).sub(b.mul(sin)), a.mul(sin).add(b.mul(cos))], -1).reshape(rot.shape);
      }
      return D > this.dim ? concat([out, x.narrow(-1, this.dim, D - this.dim)], -1) : out;
    });
  }

  override extraRepr(): string {
    return `dim=${this.dim}, maxLen=${this.maxLen}, style='${this.style}'`;
  }
}
