// SPDX-License-Identifier: MIT
// The language-model heads of the Hugging Face LMs: tying an output projection to the input
// embedding (GPT-2, Llama and BART `lm_head`, BERT's MLM decoder), building `lm_head`, and the
// causal LMs' (GPT2LMHeadModel, LlamaForCausalLM) head forward over the base model. Internal
// to the hf/ classes (not exported from the package).
// Invariants: `lm_head` is a bias-free Linear [vocab, hidden]; a tied projection's weight IS the
// embedding's (its own fresh weight is freed, so one parameter is listed and saved once under
// the embedding's key); the forward frees every intermediate but the logits and the cache.
import { tidy, type Tensor } from '@heed/core';
import { Linear, type Embedding } from '@heed/nn';
import type { CausalLMForwardOptions, CausalLMOutput, PastKeyValues } from './cache.js';

/**
 * A base model whose forward gives the last hidden states (and the cache when asked).
 *
 * @example `const base: CausalBaseModel = new GPT2Model(config);`
 */
export interface CausalBaseModel {
  forward(inputIds: Tensor, options?: CausalLMForwardOptions): { lastHiddenState: Tensor; pastKeyValues?: PastKeyValues };
}

/**
 * Ties `projection` (a Linear `[vocab, hidden]`) to `embedding`: its own weight is freed and it
 * uses the embedding's weight from now on (HF's tied output embeddings).
 *
 * @example `tieToEmbedding(this.cls.predictions.decoder, this.bert.embeddings.wordEmbeddings);`
 */
export function tieToEmbedding(projection: Linear, embedding: Embedding): void {
  projection.weight.dispose();
  projection.weight = embedding.weight;
}

/**
 * `lm_head` `[vocab, hidden]` without bias; when `tied`, it shares `embedding`'s weight.
 *
 * @example `this.lmHead = lmHead(s.embd, s.vocab, s.tied, this.transformer.wte);`
 */
export function lmHead(hidden: number, vocab: number, tied: boolean, embedding: Embedding): Linear {
  const head = new Linear(hidden, vocab, { bias: false });
  if (tied) tieToEmbedding(head, embedding);
  return head;
}

/**
 * Next-token logits `[B, T, vocab]`: `head` over `base`'s last hidden states, with its cache.
 *
 * @example `return causalLMForward(this.transformer, this.lmHead, inputIds, options);`
 */
export function causalLMForward(base: CausalBaseModel, head: Linear, inputIds: Tensor, options: CausalLMForwardOptions): CausalLMOutput {
  return tidy(() => {
    const { lastHiddenState, pastKeyValues } = base.forward(inputIds, options);
    const out: CausalLMOutput = { logits: head.forward(lastHiddenState) };
    if (pastKeyValues) out.pastKeyValues = pastKeyValues;
    return out;
  });
}
