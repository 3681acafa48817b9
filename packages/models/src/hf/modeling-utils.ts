// SPDX-License-Identifier: MIT
// Helpers shared by the Hugging Face encoder and encoder-decoder classes (BERT, BART): HF's
// activation names, HF's `_init_weights` for models built from a config, the [B, S] 0/1
// attention mask turned into a bool key mask, and token lookup whose out-of-range error names
// the model and its vocabulary size.
// Invariants: every helper validates its input with a HeedError naming the calling model; none
// keeps tensors.
import { HeedError, arange, fmtShape, gelu, noGrad, tidy, type Generator, type Tensor } from '@heed/core';
import { ACTIVATIONS, Embedding, Linear, normal_, zeros_, type ActivationName, type Module } from '@heed/nn';

/**
 * Hugging Face activation names (`hidden_act`, `activation_function`) and the nn activation
 * each one is (`gelu_new` is the tanh approximation, like HF's NewGELUActivation).
 *
 * @example
 * ```ts
 * HF_ACTIVATIONS.gelu_new; // 'gelu_tanh'
 * ```
 */
export const HF_ACTIVATIONS = {
  gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', relu: 'relu', silu: 'silu', swish: 'silu',
  tanh: 'tanh', sigmoid: 'sigmoid', mish: 'mish',
} as const satisfies Record<string, ActivationName>;

/**
 * A name of {@link HF_ACTIVATIONS}.
 *
 * @example
 * ```ts
 * const act: HFActivation = 'gelu';
 * ```
 */
export type HFActivation = keyof typeof HF_ACTIVATIONS;

/**
 * The activation function of an HF activation name.
 *
 * @example
 * ```ts
 * hfActivation('gelu')(x);
 * ```
 */
export function hfActivation(name: HFActivation): (x: Tensor) => Tensor {
  const a = HF_ACTIVATIONS[name];
  return a === 'gelu' ? (x: Tensor) => gelu(x) : ACTIVATIONS[a];
}

/**
 * HF's `_init_weights` for a model built from a config (not from a checkpoint): Linear and
 * Embedding weights `N(0, std)`, biases zero, LayerNorm ones/zeros, embedding padding rows zero.
 *
 * @example
 * ```ts
 * initHFWeights(model, 0.02, new Generator(0));
 * ```
 */
export function initHFWeights(model: Module, std: number, generator?: Generator): void {
  noGrad(() => {
    for (const m of model.modules()) {
      if (m instanceof Linear) {
        normal_(m.weight, 0, std, generator);
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof Embedding) {
        normal_(m.weight, 0, std, generator);
        const pad = m.paddingIdx;
        if (pad !== null) tidy(() => m.weight.assign(m.weight.mul(arange(m.numEmbeddings).ne(pad).float().reshape([m.numEmbeddings, 1]))));
      }
    }
  });
}

/**
 * Checks a HF `[B, S]` 0/1 attention mask against `[B, S]` and returns the bool key mask
 * `[B, 1, 1, S]` (true = may attend), or null without a mask.
 *
 * @example
 * ```ts
 * const keys = keyPaddingMask('BertModel', attentionMask, 2, 7);
 * ```
 */
export function keyPaddingMask(op: string, mask: Tensor | undefined, batch: number, length: number, name = 'attentionMask'): Tensor | null {
  if (!mask) return null;
  if (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== length) {
    throw new HeedError(op, `${name} must be [batch, keys] = ${fmtShape([batch, length])} (1 = token, 0 = padding), got ${fmtShape(mask.shape)}.`);
  }
  return tidy(() => (mask.dtype === 'bool' ? mask : mask.ne(0)).reshape([batch, 1, 1, length]));
}

/**
 * Looks `ids` up in a token embedding, turning an out-of-range id into a HeedError that names
 * the model and the table's size field (`vocab_size` by default; on WebGPU the backend reports
 * it at the next read).
 *
 * @example
 * ```ts
 * const x = embedTokens('BertModel', embeddings.wordEmbeddings, inputIds);
 * ```
 */
export function embedTokens(op: string, table: Embedding, ids: Tensor, name = 'inputIds', sizeField = 'vocab_size'): Tensor {
  if (ids.dtype !== 'int32' || ids.rank !== 2) {
    throw new HeedError(op, `${name} must be int32 [batch, length], got ${ids.dtype} ${fmtShape(ids.shape)}.`);
  }
  try {
    return table.forward(ids);
  } catch (e) {
    if (e instanceof HeedError && /out of range/.test(e.message)) {
      const what = sizeField === 'vocab_size' ? 'a token id outside the vocabulary' : 'an id out of range';
      throw new HeedError(op, `${name} holds ${what}: ${sizeField} is ${table.numEmbeddings}, so ids ` +
        `must be in [0, ${table.numEmbeddings - 1}] (${e.message})`);
    }
    throw e;
  }
}
