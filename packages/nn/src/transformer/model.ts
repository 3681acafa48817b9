// SPDX-License-Identifier: MIT
// Stacks of transformer layers and the full encoder-decoder: TransformerEncoder,
// TransformerDecoder and Transformer, with torch.nn's semantics and keys (`layers.0.*`,
// `norm.*`, `encoder.*`, `decoder.*`).
// Invariants: the N layers of a stack are deep copies of the template layer (independent
// parameters, PyTorch's `copy.deepcopy`); the template itself is not owned (dispose it if it
// was only a template); every layer gets the same masks; a forward leaves only its output
// (and caches' tensors) alive.
import { HeedError, fmtShape, tidy, type Tensor } from '@heed/core';
import { Module } from '../module.js';
import { xavierUniform } from '../init.js';
import { ModuleList } from '../layers/containers.js';
import { LayerNorm } from '../layers/normalization.js';
import { KVCache } from '../attention/kv-cache.js';
import { generateSquareSubsequentMask } from '../attention/masks.js';
import {
  TransformerDecoderLayer, TransformerEncoderLayer,
  type DecoderLayerCache, type DecoderLayerForwardOptions, type EncoderLayerForwardOptions, type TransformerLayerOptions,
} from './layers.js';

function checkLayers(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new HeedError(op, `numLayers must be a non-negative integer, got ${n}.`);
}

/**
 * Options of {@link TransformerEncoder.forward} (per-layer options, shared by every layer;
 * `cache`, when given, is a list with one KVCache per layer).
 *
 * @example
 * ```ts
 * encoder.forward(src, { srcKeyPaddingMask: pad });
 * ```
 */
export interface EncoderForwardOptions extends Omit<EncoderLayerForwardOptions, 'cache'> {
  /** One self-attention cache per layer (decoder-only generation). */
  cache?: readonly KVCache[] | null;
}

/**
 * A stack of `numLayers` deep copies of an encoder layer, with an optional final norm
 * (torch.nn.TransformerEncoder; keys `layers.0.*`, `norm.*`).
 *
 * @example
 * ```ts
 * const template = new TransformerEncoderLayer(16, 4, { dimFeedforward: 32 });
 * const encoder = new TransformerEncoder(template, 2, { norm: new LayerNorm(16) });
 * template.dispose();
 * ```
 */
export class TransformerEncoder extends Module {
  /** The layers. */
  layers: ModuleList<TransformerEncoderLayer>;
  /** Final normalisation, or null. */
  norm: LayerNorm | null;

  constructor(encoderLayer: TransformerEncoderLayer, readonly numLayers: number, options: { norm?: LayerNorm | null } = {}) {
    super();
    checkLayers('TransformerEncoder', numLayers);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => encoderLayer.clone()));
    this.norm = options.norm ?? null;
  }

  /**
   * Runs `src` through every layer (then the norm).
   *
   * @example
   * ```ts
   * const memory = encoder.forward(src, { srcMask: mask });
   * ```
   */
  forward(src: Tensor, options: EncoderForwardOptions = {}): Tensor {
    const caches = options.cache ?? null;
    if (caches && caches.length !== this.layers.length) {
      throw new HeedError('TransformerEncoder', `cache must hold one KVCache per layer (${this.layers.length}), got ${caches.length}.`);
    }
    return tidy(() => {
      let x = src;
      let i = 0;
      for (const layer of this.layers) {
        x = layer.forward(x, { ...options, cache: caches ? caches[i] : null });
        i++;
      }
      return this.norm ? this.norm.forward(x) : x.reshape(x.shape);
    });
  }

  /**
   * One empty self-attention cache per layer, for incremental decoding with `forward(x, { cache, isCausal: true })`.
   *
   * @example
   * ```ts
   * const cache = encoder.createCache();
   * ```
   */
  createCache(): KVCache[] {
    return Array.from({ length: this.layers.length }, () => new KVCache());
  }
}

/**
 * Options of {@link TransformerDecoder.forward} (shared by every layer; `cache`, when given,
 * holds one {@link DecoderLayerCache} per layer).
 *
 * @example
 * ```ts
 * decoder.forward(tgt, memory, { tgtIsCausal: true });
 * ```
 */
export interface DecoderForwardOptions extends Omit<DecoderLayerForwardOptions, 'cache'> {
  /** One cache per layer, from {@link TransformerDecoder.createCache}. */
  cache?: readonly DecoderLayerCache[] | null;
}

/**
 * A stack of `numLayers` deep copies of a decoder layer, with an optional final norm
 * (torch.nn.TransformerDecoder; keys `layers.0.*`, `norm.*`).
 *
 * @example
 * ```ts
 * const decoder = new TransformerDecoder(new TransformerDecoderLayer(16, 4), 2);
 * ```
 */
export class TransformerDecoder extends Module {
  /** The layers. */
  layers: ModuleList<TransformerDecoderLayer>;
  /** Final normalisation, or null. */
  norm: LayerNorm | null;

  constructor(decoderLayer: TransformerDecoderLayer, readonly numLayers: number, options: { norm?: LayerNorm | null } = {}) {
    super();
    checkLayers('TransformerDecoder', numLayers);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => decoderLayer.clone()));
    this.norm = options.norm ?? null;
  }

  /**
   * Runs `tgt` through every layer, each attending to `memory` (then the norm).
   *
   * @example
   * ```ts
   * const out = decoder.forward(tgt, memory, { tgtMask, memoryKeyPaddingMask });
   * ```
   */
  forward(tgt: Tensor, memory: Tensor, options: DecoderForwardOptions = {}): Tensor {
    const caches = options.cache ?? null;
    if (caches && caches.length !== this.layers.length) {
      throw new HeedError('TransformerDecoder', `cache must hold one entry per layer (${this.layers.length}), got ${caches.length}.`);
    }
    return tidy(() => {
      let x = tgt;
      let i = 0;
      for (const layer of this.layers) {
        x = layer.forward(x, memory, { ...options, cache: caches ? caches[i] : null });
        i++;
      }
      return this.norm ? this.norm.forward(x) : x.reshape(x.shape);
    });
  }

  /**
   * Empty caches (self-attention appended, cross-attention static) for incremental decoding.
   * Dispose each `KVCache` (or call {@link disposeDecoderCache}) when done.
   *
   * @example
   * ```ts
   * const cache = decoder.createCache();
   * ```
   */
  createCache(): DecoderLayerCache[] {
    return Array.from({ length: this.layers.length }, () => ({ selfAttn: new KVCache(), crossAttn: new KVCache({ static: true }) }));
  }
}

/**
 * Disposes every KVCache of a decoder cache list.
 *
 * @example
 * ```ts
 * disposeDecoderCache(cache);
 * ```
 */
export function disposeDecoderCache(cache: readonly DecoderLayerCache[]): void {
  for (const c of cache) {
    c.selfAttn.dispose();
    c.crossAttn.dispose();
  }
}

/**
 * Options of {@link Transformer} (PyTorch's defaults).
 *
 * @example
 * ```ts
 * const o: TransformerOptions = { dModel: 64, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 128 };
 * ```
 */
export interface TransformerOptions extends TransformerLayerOptions {
  /** Model width (default 512). */
  dModel?: number;
  /** Attention heads (default 8). */
  nhead?: number;
  /** Encoder layers (default 6). */
  numEncoderLayers?: number;
  /** Decoder layers (default 6). */
  numDecoderLayers?: number;
  /** Replaces the default encoder (taken over, not copied). */
  customEncoder?: TransformerEncoder;
  /** Replaces the default decoder (taken over, not copied). */
  customDecoder?: TransformerDecoder;
}

/**
 * Options of {@link Transformer.forward}.
 *
 * @example
 * ```ts
 * model.forward(src, tgt, { tgtMask: Transformer.generateSquareSubsequentMask(T), srcKeyPaddingMask: pad });
 * ```
 */
export interface TransformerForwardOptions {
  /** Encoder self-attention mask `[S, S]` or `[N*H, S, S]` (bool true = NOT allowed, or additive float). */
  srcMask?: Tensor | null;
  /** Decoder self-attention mask `[T, T]` or `[N*H, T, T]`. */
  tgtMask?: Tensor | null;
  /** Cross-attention mask `[T, S]` or `[N*H, T, S]`. */
  memoryMask?: Tensor | null;
  /** `[N, S]` source positions to ignore (bool true = ignore). */
  srcKeyPaddingMask?: Tensor | null;
  /** `[N, T]` target positions to ignore. */
  tgtKeyPaddingMask?: Tensor | null;
  /** `[N, S]` memory positions to ignore (usually the same as srcKeyPaddingMask). */
  memoryKeyPaddingMask?: Tensor | null;
  /** Causal encoder self-attention (combined with srcMask). */
  srcIsCausal?: boolean;
  /** Causal decoder self-attention (combined with tgtMask). */
  tgtIsCausal?: boolean;
  /** Causal cross-attention (rarely wanted). */
  memoryIsCausal?: boolean;
}

/**
 * The encoder-decoder transformer of "Attention Is All You Need" (torch.nn.Transformer): an
 * encoder and a decoder stack, each with a final LayerNorm; matrices initialised xavier-uniform.
 *
 * @example
 * ```ts
 * const model = new Transformer({ dModel: 16, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 32 });
 * const out = model.forward(randn([7, 2, 16]), randn([5, 2, 16]), { tgtIsCausal: true }); // [5, 2, 16]
 * ```
 */
export class Transformer extends Module {
  /** The encoder stack (key prefix `encoder.`). */
  encoder: TransformerEncoder;
  /** The decoder stack (key prefix `decoder.`). */
  decoder: TransformerDecoder;
  /** Model width. */
  readonly dModel: number;
  /** Attention heads. */
  readonly nhead: number;
  /** Layout of the inputs. */
  readonly batchFirst: boolean;

  constructor(options: TransformerOptions = {}) {
    super();
    const o = options;
    this.dModel = o.dModel ?? 512;
    this.nhead = o.nhead ?? 8;
    this.batchFirst = o.batchFirst ?? false;
    const eps = o.layerNormEps ?? 1e-5;
    const layerOptions: TransformerLayerOptions = { ...o };
    if (o.customEncoder) {
      this.encoder = o.customEncoder;
    } else {
      const template = new TransformerEncoderLayer(this.dModel, this.nhead, layerOptions);
      this.encoder = new TransformerEncoder(template, o.numEncoderLayers ?? 6, { norm: new LayerNorm(this.dModel, { eps, bias: o.bias }) });
      template.dispose();
    }
    if (o.customDecoder) {
      this.decoder = o.customDecoder;
    } else {
      const template = new TransformerDecoderLayer(this.dModel, this.nhead, layerOptions);
      this.decoder = new TransformerDecoder(template, o.numDecoderLayers ?? 6, { norm: new LayerNorm(this.dModel, { eps, bias: o.bias }) });
      template.dispose();
    }
    for (const p of this.parameters()) if (p.rank > 1) xavierUniform(p, { generator: o.generator });
  }

  /**
   * The float causal mask `[size, size]` (-inf above the diagonal), like PyTorch's.
   *
   * @example
   * ```ts
   * Transformer.generateSquareSubsequentMask(4);
   * ```
   */
  static generateSquareSubsequentMask(size: number, options: { backend?: string } = {}): Tensor {
    return generateSquareSubsequentMask(size, options);
  }

  /**
   * Encodes `src` into the memory (`[S, N, E]`, or batch first).
   *
   * @example
   * ```ts
   * const memory = model.encode(src, { srcKeyPaddingMask: pad });
   * ```
   */
  encode(src: Tensor, options: TransformerForwardOptions = {}): Tensor {
    return this.encoder.forward(src, { srcMask: options.srcMask, srcKeyPaddingMask: options.srcKeyPaddingMask, isCausal: options.srcIsCausal });
  }

  /**
   * Decodes `tgt` against `memory` (optionally incrementally with caches from `decoder.createCache()`).
   *
   * @example
   * ```ts
   * const out = model.decode(tgt, memory, { tgtIsCausal: true });
   * ```
   */
  decode(tgt: Tensor, memory: Tensor, options: TransformerForwardOptions & { cache?: readonly DecoderLayerCache[] | null } = {}): Tensor {
    return this.decoder.forward(tgt, memory, {
      tgtMask: options.tgtMask, memoryMask: options.memoryMask, tgtKeyPaddingMask: options.tgtKeyPaddingMask,
      memoryKeyPaddingMask: options.memoryKeyPaddingMask, tgtIsCausal: options.tgtIsCausal, memoryIsCausal: options.memoryIsCausal,
      cache: options.cache,
    });
  }

  /**
   * Encodes `src` and decodes `tgt` (`[S, N, E]`, `[T, N, E]`, or batch first), returning `[T, N, E]`.
   *
   * @example
   * ```ts
   * const out = model.forward(src, tgt, { tgtMask: Transformer.generateSquareSubsequentMask(tgt.shape[0]) });
   * ```
   */
  forward(src: Tensor, tgt: Tensor, options: TransformerForwardOptions = {}): Tensor {
    const batched = src.rank === 3;
    if (src.rank !== tgt.rank || (src.rank !== 2 && src.rank !== 3)) {
      throw new HeedError('Transformer', `src and tgt must both be 3-D (or 2-D unbatched), got ${fmtShape(src.shape)} and ${fmtShape(tgt.shape)}.`);
    }
    const bAxis = this.batchFirst ? 0 : 1;
    if (batched && src.shape[bAxis] !== tgt.shape[bAxis]) {
      throw new HeedError('Transformer', `the batch size of src ${fmtShape(src.shape)} and tgt ${fmtShape(tgt.shape)} must be equal.`);
    }
    if (src.shape[src.rank - 1] !== this.dModel || tgt.shape[tgt.rank - 1] !== this.dModel) {
      throw new HeedError('Transformer', `the feature size of src ${fmtShape(src.shape)} and tgt ${fmtShape(tgt.shape)} must equal dModel ${this.dModel}.`);
    }
    return tidy(() => this.decode(tgt, this.encode(src, options), options));
  }
}
