// SPDX-License-Identifier: MIT
// Attention weights for visualisation: runs the layers of an nn encoder or decoder stack one
// by one and, for each layer, asks its attention module for the (head-averaged) weights on
// exactly the input that layer's attention sees (after norm1/norm2 in pre-norm layers).
// Invariants: runs under noGrad in eval mode (the module's training flag is restored); the
// returned tensors are the only survivors, one `[N, L, S]` per layer.
import { keep, noGrad, tidy, type Tensor } from '@heed/core';
import { withEval, type Module, type TransformerDecoder, type TransformerEncoder } from '@heed/nn';

function inEval<T>(module: Module, fn: () => T): T {
  return withEval(module, () => noGrad(() => fn()));
}

/**
 * Options of {@link encoderSelfAttention}.
 *
 * @example
 * ```ts
 * const o: EncoderAttentionOptions = { keyPaddingMask: ids.eq(0), isCausal: false };
 * ```
 */
export interface EncoderAttentionOptions {
  /** `[N, L]` bool, true = padding key. */
  keyPaddingMask?: Tensor | null;
  /** Causal self-attention (decoder-only models). */
  isCausal?: boolean;
}

/**
 * Self-attention weights of every layer of a batch-first encoder stack for input `x [N, L, E]`
 * (heads averaged): one `[N, L, L]` tensor per layer.
 *
 * @example
 * ```ts
 * const maps = encoderSelfAttention(model.encoder, embedded, { keyPaddingMask: pad });
 * await maps[0].array(); // layer 0, [N, L, L]
 * ```
 */
export function encoderSelfAttention(encoder: TransformerEncoder, x: Tensor, options: EncoderAttentionOptions = {}): Tensor[] {
  return inEval(encoder, () => {
    const maps: Tensor[] = [];
    let h = x;
    for (const layer of encoder.layers) {
      const prev = h;
      h = tidy(() => {
        const q = layer.normFirst ? layer.norm1.forward(h) : h;
        const { weights } = layer.selfAttn.forward(q, q, q, { keyPaddingMask: options.keyPaddingMask, isCausal: options.isCausal, needWeights: true });
        maps.push(keep(weights as Tensor));
        return layer.forward(h, { srcKeyPaddingMask: options.keyPaddingMask, isCausal: options.isCausal });
      });
      if (prev !== x) prev.dispose();
    }
    if (h !== x) h.dispose();
    return maps;
  });
}

/**
 * Options of {@link decoderCrossAttention}.
 *
 * @example
 * ```ts
 * const o: DecoderAttentionOptions = { tgtKeyPaddingMask: tgt.eq(0), memoryKeyPaddingMask: src.eq(0) };
 * ```
 */
export interface DecoderAttentionOptions {
  /** `[N, T]` bool, true = padding target key. */
  tgtKeyPaddingMask?: Tensor | null;
  /** `[N, S]` bool, true = padding memory key. */
  memoryKeyPaddingMask?: Tensor | null;
}

/**
 * Cross-attention weights (target positions over source positions) of every layer of a
 * batch-first decoder stack, heads averaged: one `[N, T, S]` tensor per layer. The decoder's
 * self-attention is causal, as in training.
 *
 * @example
 * ```ts
 * const maps = decoderCrossAttention(model.transformer.decoder, tgtEmbedded, memory, { memoryKeyPaddingMask: pad });
 * ```
 */
export function decoderCrossAttention(decoder: TransformerDecoder, tgt: Tensor, memory: Tensor, options: DecoderAttentionOptions = {}): Tensor[] {
  return inEval(decoder, () => {
    const maps: Tensor[] = [];
    let h = tgt;
    for (const layer of decoder.layers) {
      const prev = h;
      h = tidy(() => {
        const selfIn = layer.normFirst ? layer.norm1.forward(h) : h;
        const sa = layer.selfAttn.forward(selfIn, selfIn, selfIn, {
          keyPaddingMask: options.tgtKeyPaddingMask, isCausal: true, needWeights: false,
        }).output;
        const x1 = layer.normFirst ? h.add(sa) : layer.norm1.forward(h.add(sa));
        const q = layer.normFirst ? layer.norm2.forward(x1) : x1;
        const { weights } = layer.multiheadAttn.forward(q, memory, memory, { keyPaddingMask: options.memoryKeyPaddingMask, needWeights: true });
        maps.push(keep(weights as Tensor));
        return layer.forward(h, memory, {
          tgtKeyPaddingMask: options.tgtKeyPaddingMask, memoryKeyPaddingMask: options.memoryKeyPaddingMask, tgtIsCausal: true,
        });
      });
      if (prev !== tgt) prev.dispose();
    }
    if (h !== tgt) h.dispose();
    return maps;
  });
}
