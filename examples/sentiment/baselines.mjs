// SPDX-License-Identifier: MIT
// Baselines for the sentiment example, in plain JavaScript: the majority class, the AFINN
// word-sum rule (a lexicon scorer without negation handling), and a bag-of-words logistic
// regression (unigram counts, L2-regularised, full-batch gradient descent with Adam).
// Invariants: every baseline is fit on the training split only; deterministic.
import { afinnLabel } from './data.mjs';

const words = (text) => text.toLowerCase().match(/[a-z']+/g) ?? [];

/**
 * Predicts the most frequent training label for everything.
 *
 * @example
 * const predict = majorityBaseline(train); predict('anything'); // 0 or 1
 * @param {{ label: number }[]} train
 */
export function majorityBaseline(train) {
  const positives = train.filter((s) => s.label === 1).length;
  const label = positives * 2 >= train.length ? 1 : 0;
  return () => label;
}

/**
 * The AFINN word-sum rule (no training).
 *
 * @example
 * afinnBaseline()('a great film'); // 1
 */
export function afinnBaseline() {
  return (text) => afinnLabel(text);
}

/**
 * Fits a bag-of-words logistic regression on `train` and returns its predictor.
 *
 * @example
 * const predict = bagOfWordsBaseline(train, { epochs: 300 });
 * predict('the plot was not bad'); // 0 or 1
 * @param {{ text: string, label: number }[]} train
 * @param {{ epochs?: number, lr?: number, l2?: number }} [o]
 */
export function bagOfWordsBaseline(train, { epochs = 300, lr = 0.1, l2 = 1e-4 } = {}) {
  const vocab = new Map();
  const rows = train.map((s) => {
    const counts = new Map();
    for (const w of words(s.text)) {
      if (!vocab.has(w)) vocab.set(w, vocab.size);
      const j = vocab.get(w);
      counts.set(j, (counts.get(j) ?? 0) + 1);
    }
    return { features: [...counts], y: s.label };
  });
  const V = vocab.size;
  const w = new Float64Array(V + 1); // last entry: bias
  const m = new Float64Array(V + 1);
  const v = new Float64Array(V + 1);
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  for (let t = 1; t <= epochs; t++) {
    const g = new Float64Array(V + 1);
    for (const { features, y } of rows) {
      let z = w[V];
      for (const [j, c] of features) z += w[j] * c;
      const err = 1 / (1 + Math.exp(-z)) - y;
      for (const [j, c] of features) g[j] += err * c;
      g[V] += err;
    }
    for (let j = 0; j <= V; j++) {
      const grad = g[j] / rows.length + (j < V ? l2 * w[j] : 0);
      m[j] = b1 * m[j] + (1 - b1) * grad;
      v[j] = b2 * v[j] + (1 - b2) * grad * grad;
      w[j] -= (lr * (m[j] / (1 - b1 ** t))) / (Math.sqrt(v[j] / (1 - b2 ** t)) + eps);
    }
  }
  return (text) => {
    let z = w[V];
    for (const word of words(text)) {
      const j = vocab.get(word);
      if (j !== undefined) z += w[j];
    }
    return z > 0 ? 1 : 0;
  };
}

/**
 * Accuracy of `predict` overall and per sentence kind.
 *
 * @example
 * const { accuracy, byKind } = accuracyOf(predict, test);
 * @param {(text: string) => number} predict @param {{ text: string, label: number, kind: string }[]} data
 */
export function accuracyOf(predict, data) {
  const byKind = {};
  let correct = 0;
  for (const s of data) {
    const ok = predict(s.text) === s.label;
    if (ok) correct++;
    byKind[s.kind] ??= { correct: 0, total: 0 };
    byKind[s.kind].total++;
    if (ok) byKind[s.kind].correct++;
  }
  return { accuracy: correct / data.length, byKind: Object.fromEntries(Object.entries(byKind).map(([k, c]) => [k, c.correct / c.total])) };
}
