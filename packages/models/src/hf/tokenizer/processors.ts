// SPDX-License-Identifier: MIT
// tokenizer.json post-processors: add the special tokens around one sequence or a pair, with
// their token type ids (TemplateProcessing, BertProcessing, RobertaProcessing; ByteLevel only
// adjusts offsets, which Heed does not track, so it passes ids through; Sequence chains them).
// Without special tokens a pair is simply A followed by B.
import { HeedError } from '@heed/core';
import type { ComponentJSON, PostProcessorJSON, TemplatePieceJSON } from './json.js';

/** Token ids with their tokens (as matched) and token type ids (0 for the first sequence, 1 for the pair by default). */
export interface EncodedIds {
  ids: number[];
  tokens: string[];
  typeIds: number[];
}

/** A post-processor: the encodings after adding special tokens (one merged encoding, or as given). */
export type PostProcessor = (encodings: EncodedIds[], addSpecialTokens: boolean) => EncodedIds[];

const OP = 'AutoTokenizer';

function concat(encs: readonly EncodedIds[]): EncodedIds {
  if (encs.length === 1) return encs[0];
  const out: EncodedIds = { ids: [], tokens: [], typeIds: [] };
  for (const e of encs) {
    for (let k = 0; k < e.ids.length; k++) { out.ids.push(e.ids[k]); out.tokens.push(e.tokens[k]); out.typeIds.push(e.typeIds[k]); }
  }
  return out;
}

function template(pieces: TemplatePieceJSON[], specials: Extract<PostProcessorJSON, { type: 'TemplateProcessing' }>['special_tokens'],
  encs: readonly EncodedIds[]): EncodedIds {
  const out: EncodedIds = { ids: [], tokens: [], typeIds: [] };
  for (const p of pieces) {
    if ('SpecialToken' in p) {
      const sp = specials[p.SpecialToken.id];
      if (sp === undefined) throw new HeedError(OP, `TemplateProcessing uses the special token ${JSON.stringify(p.SpecialToken.id)} that its special_tokens do not define.`);
      sp.ids.forEach((id, k) => { out.ids.push(id); out.tokens.push(sp.tokens[k] ?? sp.id); out.typeIds.push(p.SpecialToken.type_id); });
    } else {
      const e = encs[p.Sequence.id === 'A' ? 0 : 1];
      if (e === undefined) continue;
      e.ids.forEach((id, k) => { out.ids.push(id); out.tokens.push(e.tokens[k]); out.typeIds.push(p.Sequence.type_id); });
    }
  }
  return out;
}

type Special = [token: string, id: number];

function wrap(cls: Special, sep: Special, doubleSep: boolean, encs: readonly EncodedIds[], pairType: number): EncodedIds {
  const [a, b] = encs;
  const ids = [cls[1], ...a.ids, sep[1]];
  const tokens = [cls[0], ...a.tokens, sep[0]];
  const typeIds = ids.map(() => 0);
  if (b !== undefined) {
    const head = doubleSep ? [sep] : [];
    ids.push(...head.map((s) => s[1]), ...b.ids, sep[1]);
    tokens.push(...head.map((s) => s[0]), ...b.tokens, sep[0]);
    while (typeIds.length < ids.length) typeIds.push(pairType);
  }
  return { ids, tokens, typeIds };
}

/**
 * Builds the post-processor a tokenizer.json `post_processor` entry describes; an unknown type is a HeedError naming it.
 *
 * @example
 * ```ts
 * const p = buildPostProcessor({ type: 'BertProcessing', cls: ['[CLS]', 2], sep: ['[SEP]', 3] });
 * p([{ ids: [7], tokens: ['hi'], typeIds: [0] }], true)[0].ids; // [2, 7, 3]
 * ```
 */
export function buildPostProcessor(component: ComponentJSON | PostProcessorJSON): PostProcessor {
  const j = component as PostProcessorJSON;
  switch (j.type) {
    case 'TemplateProcessing':
      return (encs, add) => [add ? template(encs.length > 1 ? j.pair : j.single, j.special_tokens, encs) : concat(encs)];
    case 'BertProcessing':
      return (encs, add) => [add ? wrap(j.cls, j.sep, false, encs, 1) : concat(encs)];
    case 'RobertaProcessing':
      return (encs, add) => [add ? wrap(j.cls, j.sep, true, encs, 0) : concat(encs)];
    case 'ByteLevel':
      return (encs) => encs;
    case 'Sequence': {
      const steps = j.processors.map(buildPostProcessor);
      return (encs, add) => steps.reduce((e, f) => f(e, add), encs);
    }
    default:
      throw new HeedError(OP, `unknown post_processor type ${JSON.stringify((j as { type?: unknown }).type)} in tokenizer.json; `
        + 'supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence.');
  }
}

/** Runs a post-processor (or none) and merges its output into one encoding. */
export function postProcess(p: PostProcessor | null, encs: EncodedIds[], addSpecialTokens: boolean): EncodedIds {
  return concat(p ? p(encs, addSpecialTokens) : encs);
}

/**
 * transformers' `update_post_processor`: a TemplateProcessing with the bos token before and the
 * eos token after each sequence, as tokenizer_config.json's add_bos_token / add_eos_token say
 * (used instead of tokenizer.json's post-processor when the config sets either flag).
 */
export function bosEosProcessor(bos: [token: string, id: number] | null, eos: [token: string, id: number] | null): PostProcessor {
  const seq = (id: 'A' | 'B', type: number): TemplatePieceJSON[] => [
    ...(bos ? [{ SpecialToken: { id: bos[0], type_id: type } }] : []),
    { Sequence: { id, type_id: type } },
    ...(eos ? [{ SpecialToken: { id: eos[0], type_id: type } }] : []),
  ];
  const specials: Record<string, { id: string; ids: number[]; tokens: string[] }> = {};
  for (const t of [bos, eos]) if (t) specials[t[0]] = { id: t[0], ids: [t[1]], tokens: [t[0]] };
  return buildPostProcessor({ type: 'TemplateProcessing', single: seq('A', 0), pair: [...seq('A', 0), ...seq('B', 1)], special_tokens: specials });
}
