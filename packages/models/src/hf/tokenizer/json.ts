// SPDX-License-Identifier: MIT
// The shapes of Hugging Face's tokenizer.json (as the Rust `tokenizers` library serializes
// them) and of tokenizer_config.json / special_tokens_map.json, typed for the parts Heed reads.
// Invariant: each union lists exactly the component types Heed implements; anything else is
// rejected by name when the pipeline is built (see pipeline.ts).

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

/** An entry of tokenizer.json's `added_tokens`. */
export interface AddedTokenJSON {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A whole tokenizer.json file. */
export interface TokenizerJSON {
  version: string;
  truncation: unknown;
  padding: unknown;
  added_tokens: AddedTokenJSON[];
  normalizer: NormalizerJSON | null;
  pre_tokenizer: PreTokenizerJSON | null;
  post_processor: PostProcessorJSON | null;
  decoder: DecoderJSON | null;
  model: ModelJSON;
}

/** A special token in tokenizer_config.json: its text, or an AddedToken-like object. */
export type ConfigTokenJSON = string | { content: string; [key: string]: unknown } | null;

/** The fields of tokenizer_config.json (and special_tokens_map.json) that Heed reads. */
export interface TokenizerConfigJSON {
  bos_token?: ConfigTokenJSON;
  eos_token?: ConfigTokenJSON;
  unk_token?: ConfigTokenJSON;
  pad_token?: ConfigTokenJSON;
  sep_token?: ConfigTokenJSON;
  cls_token?: ConfigTokenJSON;
  mask_token?: ConfigTokenJSON;
  model_max_length?: number;
  padding_side?: 'left' | 'right';
  truncation_side?: 'left' | 'right';
  [key: string]: unknown;
}
