// SPDX-License-Identifier: MIT
// tokenizer.json decoders: tokens back to text with the Rust library's semantics. Each decoder
// maps the token list to a new token list (`decode_chain`); the text is their concatenation.
// ByteLevel maps GPT-2's printable characters back to bytes (a token with any other character
// keeps its UTF-8 bytes) and decodes lossily (U+FFFD for invalid bytes); ByteFallback turns
// runs of <0xXX> tokens into text, or one U+FFFD per byte when the run is not valid UTF-8.
import { HeedError } from '@heed/core';
import type { ComponentJSON, DecoderJSON } from './json.js';
import { patternRegExp } from './normalizers.js';
import { prependScheme } from './pre-tokenizers.js';
import { CHAR_TO_BYTE } from './unicode.js';

/** A decoder: the tokens after one decoding step. */
export type Decoder = (tokens: string[]) => string[];

const OP = 'AutoTokenizer';
const lossy = new TextDecoder('utf-8', { ignoreBOM: true }); // a leading U+FEFF is text, not a BOM
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

function byteLevel(tokens: string[]): string[] {
  const bytes: number[] = [];
  for (const t of tokens) {
    const mapped: number[] = [];
    let ok = true;
    for (const c of t) {
      const b = CHAR_TO_BYTE.get(c);
      if (b === undefined) { ok = false; break; }
      mapped.push(b);
    }
    bytes.push(...(ok ? mapped : utf8.encode(t)));
  }
  return [lossy.decode(Uint8Array.from(bytes))];
}

function byteFallback(tokens: string[]): string[] {
  const out: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length === 0) return;
    try {
      out.push(strict.decode(Uint8Array.from(run)));
    } catch {
      for (let k = 0; k < run.length; k++) out.push('\ufffd');
    }
    run = [];
  };
  for (const t of tokens) {
    const m = BYTE_TOKEN.exec(t);
    if (m) { run.push(parseInt(m[1], 16)); continue; }
    flush();
    out.push(t);
  }
  flush();
  return out;
}

function strip(content: string, start: number, stop: number): Decoder {
  return (tokens) => tokens.map((t) => {
    const chars = [...t];
    let a = 0;
    while (a < start && a < chars.length && chars[a] === content) a++;
    let b = chars.length;
    while (chars.length - b < stop && b > a && chars[b - 1] === content) b--;
    return chars.slice(a, b).join('');
  });
}

/**
 * Removes the spaces tokenization put before punctuation and contractions: transformers'
 * `clean_up_tokenization`, and with `doNot` the Rust WordPiece decoder's cleanup (which also
 * turns " do not" into " don't").
 */
export function cleanupSpaces(s: string, doNot = false): string {
  const t = s.replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',').replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't").replaceAll(" 'm", "'m");
  return (doNot ? t.replaceAll(' do not', " don't") : t).replaceAll(" 's", "'s").replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
}

/**
 * Builds the decoder a tokenizer.json `decoder` entry describes; an unknown type is a HeedError naming it.
 *
 * @example
 * ```ts
 * buildDecoder({ type: 'WordPiece', prefix: '##', cleanup: true })(['un', '##seen', '!']).join(''); // 'unseen!'
 * ```
 */
export function buildDecoder(component: ComponentJSON | DecoderJSON): Decoder {
  const j = component as DecoderJSON;
  switch (j.type) {
    case 'ByteLevel': return byteLevel;
    case 'ByteFallback': return byteFallback;
    case 'Fuse': return (tokens) => [tokens.join('')];
    case 'Strip': return strip(j.content, j.start, j.stop);
    case 'Replace': {
      const re = patternRegExp(j.pattern);
      return (tokens) => tokens.map((t) => t.replace(re, () => j.content));
    }
    case 'WordPiece':
      return (tokens) => tokens.map((t, i) => {
        let s = t;
        if (i !== 0) s = s.startsWith(j.prefix) ? s.slice(j.prefix.length) : ' ' + s;
        return j.cleanup ? cleanupSpaces(s, true) : s;
      });
    case 'Metaspace': {
      const scheme = prependScheme(j);
      return (tokens) => tokens.map((t, i) => {
        let s = '';
        for (const c of t) s += c === j.replacement ? (i === 0 && scheme !== 'never' ? '' : ' ') : c;
        return s;
      });
    }
    case 'BPEDecoder':
      return (tokens) => tokens.map((t, i) => t.replaceAll(j.suffix, i === tokens.length - 1 ? '' : ' '));
    case 'Sequence': {
      const steps = j.decoders.map(buildDecoder);
      return (tokens) => steps.reduce((t, f) => f(t), tokens);
    }
    default:
      throw new HeedError(OP, `unknown decoder type ${JSON.stringify((j as { type?: unknown }).type)} in tokenizer.json; `
        + 'supported: ByteLevel, WordPiece, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence.');
  }
}
