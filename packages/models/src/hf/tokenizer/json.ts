// SPDX-License-Identifier: MIT
// The shapes of Hugging Face's tokenizer.json (as the Rust `tokenizers` library serializes
// them) and of tokenizer_config.json / special_tokens_map.json, typed for the parts Heed reads.
// The public file types hold components loosely (`ComponentJSON`); each builder narrows its
// component to the typed union below (@internal), whose members are exactly the types Heed
// implements; anything else is rejected by name when the tokenizer is built.

/** A pattern of Replace/Split: a literal string or a regular expression (Oniguruma syntax). */
export type PatternJSON = { String: string } | { Regex: string };

/** A normalizer of tokenizer.json. */
export type NormalizerJSON =
  | { type: 'NFC' } | { type: 'NFD' } | { type: 'NFKC' } | { type: 'NFKD' }
  | { type: 'Lowercase' } | { type: 'StripAccents' }
  | { type: 'BertNormalizer'; clean_text: boolean; handle_chinese_chars: boolean; strip_accents: boolean | null; lowercase: boolean }
  | { type: 'Prepend'; prepend: string }
  | { type: 'Replace'; pattern: PatternJSON; content: string }
  | { type: 'Strip'; strip_left: boolean; strip_right: boolean }
  | { type: 'Sequence'; normalizers: NormalizerJSON[] };

/** How a Split-like pre-tokenizer treats the matched delimiter. */
export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/** Metaspace's rule for prepending the replacement character. */
export type PrependScheme = 'always' | 'first' | 'never';

/** A pre-tokenizer of tokenizer.json. */
export type PreTokenizerJSON =
  | { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets?: boolean; use_regex?: boolean }
  | { type: 'BertPreTokenizer' } | { type: 'Whitespace' } | { type: 'WhitespaceSplit' }
  | { type: 'Metaspace'; replacement: string; prepend_scheme?: PrependScheme; add_prefix_space?: boolean; split?: boolean }
  | { type: 'Split'; pattern: PatternJSON; behavior: SplitBehavior; invert: boolean }
  | { type: 'Punctuation'; behavior?: SplitBehavior }
  | { type: 'Digits'; individual_digits: boolean }
  | { type: 'Sequence'; pretokenizers: PreTokenizerJSON[] };

/** A BPE model of tokenizer.json (merges as `"a b"` strings or, since tokenizers 0.20, pairs). */
export interface BpeModelJSON {
  type: 'BPE';
  dropout: number | null;
  unk_token: string | null;
  continuing_subword_prefix: string | null;
  end_of_word_suffix: string | null;
  fuse_unk: boolean;
  byte_fallback: boolean;
  ignore_merges?: boolean;
  vocab: Record<string, number>;
  merges: (string | [string, string])[];
}

/** A WordPiece model of tokenizer.json. */
export interface WordPieceModelJSON {
  type: 'WordPiece';
  unk_token: string;
  continuing_subword_prefix: string;
  max_input_chars_per_word: number;
  vocab: Record<string, number>;
}

/** A WordLevel model of tokenizer.json (one id per pre-tokenized word). */
export interface WordLevelModelJSON {
  type: 'WordLevel';
  unk_token: string;
  vocab: Record<string, number>;
}

/** A model of tokenizer.json. */
export type ModelJSON = BpeModelJSON | WordPieceModelJSON | WordLevelModelJSON;

/** One piece of a TemplateProcessing template. */
export type TemplatePieceJSON =
  | { SpecialToken: { id: string; type_id: number } }
  | { Sequence: { id: 'A' | 'B'; type_id: number } };

/** A post-processor of tokenizer.json. */
export type PostProcessorJSON =
  | { type: 'TemplateProcessing'; single: TemplatePieceJSON[]; pair: TemplatePieceJSON[];
    special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }> }
  | { type: 'BertProcessing'; sep: [string, number]; cls: [string, number] }
  | { type: 'RobertaProcessing'; sep: [string, number]; cls: [string, number]; trim_offsets?: boolean; add_prefix_space?: boolean }
  | { type: 'ByteLevel'; add_prefix_space?: boolean; trim_offsets?: boolean; use_regex?: boolean }
  | { type: 'Sequence'; processors: PostProcessorJSON[] };

/** A decoder of tokenizer.json. */
export type DecoderJSON =
  | { type: 'ByteLevel'; add_prefix_space?: boolean; trim_offsets?: boolean; use_regex?: boolean }
  | { type: 'WordPiece'; prefix: string; cleanup: boolean }
  | { type: 'Metaspace'; replacement: string; prepend_scheme?: PrependScheme; add_prefix_space?: boolean; split?: boolean }
  | { type: 'ByteFallback' } | { type: 'Fuse' }
  | { type: 'Strip'; content: string; start: number; stop: number }
  | { type: 'Replace'; pattern: PatternJSON; content: string }
  | { type: 'BPEDecoder'; suffix: string }
  | { type: 'Sequence'; decoders: DecoderJSON[] };

/**
 * One component of tokenizer.json (a normalizer, pre-tokenizer, model, post-processor or decoder):
 * its `type` and that type's fields, as the Rust library serializes them.
 *
 * @example
 * ```ts
 * const lower: ComponentJSON = { type: 'Lowercase' };
 * ```
 */
export interface ComponentJSON {
  /** The component type, e.g. `'BertNormalizer'`, `'ByteLevel'`, `'BPE'`. */
  type: string;
  /** The type's own fields. */
  [field: string]: unknown;
}

/**
 * An entry of tokenizer.json's `added_tokens`.
 *
 * @example
 * ```ts
 * const eos: AddedTokenJSON = { id: 2, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
 * ```
 */
export interface AddedTokenJSON {
  /** The token's id. */
  id: number;
  /** The token's text. */
  content: string;
  /** Only match it as a whole word (not inside one). */
  single_word: boolean;
  /** The match also takes the whitespace before it. */
  lstrip: boolean;
  /** The match also takes the whitespace after it. */
  rstrip: boolean;
  /** Match it in the normalized text (its content normalized too) rather than the raw text. */
  normalized: boolean;
  /** A special token (dropped by `skipSpecialTokens`). */
  special: boolean;
}

/**
 * A whole tokenizer.json file.
 *
 * @example
 * ```ts
 * const json = JSON.parse(text) as HFTokenizerJSON; // exported from @heed/models as HFTokenizerJSON
 * json.model.type; // 'BPE'
 * ```
 */
export interface TokenizerJSON {
  /** The format version ('1.0'). */
  version: string;
  /** The library's truncation settings (ignored: encodeBatch options decide, as in transformers). */
  truncation: unknown;
  /** The library's padding settings (ignored: encodeBatch options decide, as in transformers). */
  padding: unknown;
  /** Tokens matched before the model runs. */
  added_tokens: AddedTokenJSON[];
  /** The normalizer, or null. */
  normalizer: ComponentJSON | null;
  /** The pre-tokenizer, or null. */
  pre_tokenizer: ComponentJSON | null;
  /** The post-processor (special tokens), or null. */
  post_processor: ComponentJSON | null;
  /** The decoder, or null (tokens are then joined with spaces). */
  decoder: ComponentJSON | null;
  /** The model (BPE, WordPiece, WordLevel). */
  model: ComponentJSON;
}

/**
 * A special token in tokenizer_config.json: its text, or an AddedToken-like object.
 *
 * @example
 * ```ts
 * const a: ConfigTokenJSON = '</s>';
 * const b: ConfigTokenJSON = { content: '</s>', lstrip: false };
 * ```
 */
export type ConfigTokenJSON = string | ConfigAddedTokenJSON | null;

/**
 * A special token written as an object in tokenizer_config.json (transformers' AddedToken form).
 *
 * @example
 * ```ts
 * const t: ConfigAddedTokenJSON = { content: '<mask>', lstrip: true };
 * ```
 */
export interface ConfigAddedTokenJSON {
  /** The token's text. */
  content: string;
  /** AddedToken's other fields (lstrip, rstrip, normalized, ...). */
  [key: string]: unknown;
}

/**
 * The fields of tokenizer_config.json (and special_tokens_map.json) that Heed reads; others are kept.
 *
 * @example
 * ```ts
 * const config: TokenizerConfigJSON = { eos_token: '</s>', pad_token: '</s>', padding_side: 'left', model_max_length: 2048 };
 * ```
 */
export interface TokenizerConfigJSON {
  /** The beginning-of-sequence token. */
  bos_token?: ConfigTokenJSON;
  /** The end-of-sequence token. */
  eos_token?: ConfigTokenJSON;
  /** The unknown token. */
  unk_token?: ConfigTokenJSON;
  /** The padding token (needed by padded batches). */
  pad_token?: ConfigTokenJSON;
  /** The separator token ([SEP]). */
  sep_token?: ConfigTokenJSON;
  /** The classifier token ([CLS]). */
  cls_token?: ConfigTokenJSON;
  /** The mask token ([MASK]). */
  mask_token?: ConfigTokenJSON;
  /** The longest input the model takes (default truncation / max_length padding length). */
  model_max_length?: number;
  /** Which side padding goes (default 'right'). */
  padding_side?: 'left' | 'right';
  /** Which side truncation cuts (default 'right'). */
  truncation_side?: 'left' | 'right';
  /** With add_eos_token: replaces tokenizer.json's post-processor by bos/eos around each sequence, as transformers does. */
  add_bos_token?: boolean;
  /** See add_bos_token. */
  add_eos_token?: boolean;
  /** Whether decode removes spaces before punctuation (transformers' clean_up_tokenization). */
  clean_up_tokenization_spaces?: boolean;
  /** Any other field, kept as read. */
  [key: string]: unknown;
}
