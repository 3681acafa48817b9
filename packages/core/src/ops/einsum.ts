// SPDX-License-Identifier: MIT
// einsum (torch.einsum): parses the equation (explicit or implicit output, `...` broadcasting,
// repeated subscripts = diagonals), then lowers it to core ops: diagonals by an identity mask,
// subscripts used by one operand only are summed first, and operands are contracted pair-wise
// left to right through one batched matmul each ([batch, M, K] @ [batch, K, N]), never through a
// broadcast product of all operands. Gradients come from the ops it is built of.
import { isFloatDType } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import { tidy } from '../scope.js';
import { commonBackend } from './operands.js';
import { binary } from './elementwise.js';
import { eye } from './creation.js';
import { matmul } from './matmul.js';
import { sum } from './reduce.js';
import { expand, permute, reshape } from './views.js';

/** A subscript: a letter's char code, or -(k+1) for the k-th ellipsis dim counted from the right. */
type Label = number;

interface Term {
  readonly labels: Label[];
  /** For messages: the subscripts as written. */
  readonly text: string;
}

function isLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

function labelName(l: Label): string {
  return l >= 0 ? `'${String.fromCharCode(l)}'` : `'...' dim ${-l}`;
}

/** Parses one side's subscripts; `rank` (inputs) sizes the ellipsis, null for the output. */
function parseTerm(text: string, where: string, rank: number | null, ellipsisRank: number): Term {
  const labels: Label[] = [];
  let ellipsis = false;
  let letters = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '.') {
      if (text.slice(i, i + 3) !== '...') {
        throw new HeedError('einsum', `found '.' in ${where} ('${text}') that is not part of an ellipsis '...'.`);
      }
      if (ellipsis) throw new HeedError('einsum', `${where} ('${text}') has more than one ellipsis '...'.`);
      ellipsis = true;
      labels.push(0); // placeholder, expanded below
      i += 2;
    } else if (isLetter(c)) {
      labels.push(c.charCodeAt(0));
      letters++;
    } else {
      throw new HeedError('einsum', `invalid subscript '${c}' in ${where} ('${text}'); subscripts are letters a-z, A-Z and '...'.`);
    }
  }
  let n = ellipsisRank;
  if (rank !== null) {
    if (ellipsis ? letters > rank : letters !== rank) {
      throw new HeedError('einsum', `${where} has ${letters} subscripts ('${text}') but ${rank} dimensions` +
        `${ellipsis ? '' : ' and no ellipsis \'...\''}; give one subscript per dimension.`);
    }
    n = rank - letters;
  }
  const at = labels.indexOf(0);
  if (ellipsis) labels.splice(at, 1, ...Array.from({ length: n }, (_, k) => -(n - k)));
  return { labels, text };
}

interface Operand {
  t: Tensor;
  labels: Label[];
}

/** Takes diagonals for subscripts repeated within one operand (x[i, i] -> y[i]). */
function takeDiagonals(op: Operand, index: number, text: string): Operand {
  let { t, labels } = op;
  for (;;) {
    const dup = labels.findIndex((l, i) => labels.indexOf(l) !== i);
    if (dup < 0) return { t, labels };
    const first = labels.indexOf(labels[dup]);
    const n = t.shape[first];
    if (t.shape[dup] !== n) {
      throw new HeedError('einsum', `subscript ${labelName(labels[dup])} is repeated in operand ${index} ('${text}', shape ` +
        `${fmtShape(t.shape)}) but its sizes differ (${n} vs ${t.shape[dup]}); a diagonal needs equal sizes.`);
    }
    const maskShape = t.shape.map((d, i) => (i === first || i === dup ? d : 1));
    const mask = reshape(eye(n, n, { backend: t.backend.name }), maskShape);
    t = sum(binary('mul', t, mask), { axis: dup });
    labels = labels.filter((_, i) => i !== dup);
  }
}

/** Sums the dims of `op` whose labels are not in `keep`. */
function sumOut(op: Operand, keep: ReadonlySet<Label>): Operand {
  const axes = op.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  if (axes.length === 0) return op;
  return { t: sum(op.t, { axis: axes }), labels: op.labels.filter((l) => keep.has(l)) };
}

/** Sums `op` over the dims whose label is in `labels` keeping them (as size 1). */
function squash(op: Operand, labels: readonly Label[]): Operand {
  const axes = labels.map((l) => op.labels.indexOf(l));
  return axes.length === 0 ? op : { t: sum(op.t, { axis: axes, keepdim: true }), labels: op.labels };
}

function sizeOfLabel(op: Operand, l: Label): number {
  return op.t.shape[op.labels.indexOf(l)];
}

/** Contracts two operands over their shared labels not in `keep`, via one batched matmul. */
function contract(a: Operand, b: Operand, keep: ReadonlySet<Label>): Operand {
  const inB = new Set(b.labels);
  const batch = a.labels.filter((l) => inB.has(l) && keep.has(l));
  let summed = a.labels.filter((l) => inB.has(l) && !keep.has(l));
  // A contracted subscript of size 1 on one side only broadcasts: sum the other side first.
  const aOnes = summed.filter((l) => sizeOfLabel(a, l) === 1 && sizeOfLabel(b, l) !== 1);
  const bOnes = summed.filter((l) => sizeOfLabel(b, l) === 1 && sizeOfLabel(a, l) !== 1);
  b = squash(b, aOnes);
  a = squash(a, bOnes);
  summed = summed.filter((l) => !aOnes.includes(l) && !bOnes.includes(l)).concat(aOnes, bOnes);
  const left = a.labels.filter((l) => !inB.has(l));
  const inA = new Set(a.labels);
  const right = b.labels.filter((l) => !inA.has(l));
  const at = (op: Operand, ls: readonly Label[]) => ls.map((l) => op.labels.indexOf(l));
  const dims = (op: Operand, ls: readonly Label[]) => ls.map((l) => sizeOfLabel(op, l));
  const prod = (xs: readonly number[]) => xs.reduce((p, d) => p * d, 1);
  const k = prod(dims(a, summed));
  const pa = permute(a.t, [...at(a, batch), ...at(a, left), ...at(a, summed)]);
  const pb = permute(b.t, [...at(b, batch), ...at(b, summed), ...at(b, right)]);
  const ma = reshape(pa, [...dims(a, batch), prod(dims(a, left)), k]);
  const mb = reshape(pb, [...dims(b, batch), k, prod(dims(b, right))]);
  const batchShape = batch.map((l) => Math.max(sizeOfLabel(a, l), sizeOfLabel(b, l)));
  const t = reshape(matmul(ma, mb), [...batchShape, ...dims(a, left), ...dims(b, right)]);
  return { t, labels: [...batch, ...left, ...right] };
}

/**
 * Einstein summation (like `torch.einsum`): `'ij,jk->ik'` is a matrix product, `'ii'` a trace,
 * `'ii->i'` a diagonal, `'...ij,...jk->...ik'` a batched product with broadcasting. Without
 * `->` the output holds the subscripts that appear once, in alphabetical order, after the
 * ellipsis dims. Size-1 dims broadcast against their subscript's size. Lowered to permutes,
 * reshapes, sums and one batched matmul per operand pair (left to right), so gradients flow.
 *
 * @example
 * ```ts
 * einsum('ij,jk->ik', a, b); // matmul(a, b)
 * einsum('bhqd,bhkd->bhqk', q, k); // attention scores
 * einsum('ii', tensor([[1, 2], [3, 4]])); // 5 (the trace)
 * ```
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  if (typeof equation !== 'string') throw new HeedError('einsum', `the equation must be a string like 'ij,jk->ik', got ${typeof equation}.`);
  if (operands.length === 0) throw new HeedError('einsum', `needs at least one operand for '${equation}'.`);
  operands.forEach((o, i) => {
    if (!(o instanceof Tensor)) throw new HeedError('einsum', `operand ${i} must be a Tensor, got ${typeof o}.`);
  });
  commonBackend('einsum', operands);
  operands.forEach((o, i) => {
    if (!isFloatDType(o.dtype)) {
      throw new HeedError('einsum', `operand ${i} is ${o.dtype} ${fmtShape(o.shape)}; einsum needs float operands (cast with .float()).`);
    }
  });
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  if (arrow !== eq.lastIndexOf('->')) throw new HeedError('einsum', `'${equation}' has more than one '->'.`);
  const lhs = arrow < 0 ? eq : eq.slice(0, arrow);
  const texts = lhs.split(',');
  if (texts.length !== operands.length) {
    throw new HeedError('einsum', `'${equation}' has ${texts.length} input term${texts.length === 1 ? '' : 's'} but ` +
      `${operands.length} operand${operands.length === 1 ? ' was' : 's were'} given (shapes ${operands.map((o) => fmtShape(o.shape)).join(', ')}).`);
  }
  const terms = texts.map((t, i) => parseTerm(t, `operand ${i}`, operands[i].rank, 0));
  const ellipsisRank = Math.max(0, ...terms.map((t) => t.labels.filter((l) => l < 0).length));
  // Sizes per subscript: equal, or 1 (broadcast).
  const sizes = new Map<Label, { size: number; from: number }>();
  terms.forEach((term, i) => term.labels.forEach((l, d) => {
    const size = operands[i].shape[d];
    const seen = sizes.get(l);
    if (!seen || seen.size === 1) sizes.set(l, { size, from: i });
    else if (size !== seen.size && size !== 1 && seen.from !== i) {
      throw new HeedError('einsum', `subscript ${labelName(l)} has size ${size} in operand ${i} ('${term.text}', shape ` +
        `${fmtShape(operands[i].shape)}) but ${seen.size} in operand ${seen.from} ('${terms[seen.from].text}', shape ` +
        `${fmtShape(operands[seen.from].shape)}); sizes must match or be 1.`);
    }
  }));
  let output: Label[];
  if (arrow >= 0) {
    output = parseTerm(eq.slice(arrow + 2), 'the output', null, ellipsisRank).labels;
    output.forEach((l, i) => {
      if (l >= 0 && !sizes.has(l)) {
        throw new HeedError('einsum', `output subscript ${labelName(l)} of '${equation}' does not appear in any input term.`);
      }
      if (output.indexOf(l) !== i) throw new HeedError('einsum', `output subscript ${labelName(l)} appears more than once in '${equation}'.`);
    });
  } else {
    const count = new Map<Label, number>();
    for (const term of terms) for (const l of term.labels) count.set(l, (count.get(l) ?? 0) + 1);
    const ell = Array.from({ length: ellipsisRank }, (_, k) => -(ellipsisRank - k));
    output = [...ell, ...[...count].filter(([l, c]) => l >= 0 && c === 1).map(([l]) => l).sort((x, y) => x - y)];
  }
  return tidy(() => {
    const outSet = new Set(output);
    const ops = terms.map((term, i) => takeDiagonals({ t: operands[i], labels: term.labels }, i, term.text));
    const neededAfter = (i: number): Set<Label> => new Set([...outSet, ...ops.slice(i + 1).flatMap((o) => o.labels)]);
    let acc = sumOut(ops[0], new Set([...neededAfter(0), ...(ops.length > 1 ? ops[1].labels : [])]));
    for (let i = 1; i < ops.length; i++) {
      const keep = neededAfter(i);
      const next = sumOut(ops[i], new Set([...keep, ...acc.labels]));
      acc = contract(sumOut(acc, new Set([...keep, ...next.labels])), next, keep);
    }
    acc = sumOut(acc, outSet);
    // Each output size is the largest seen for its subscript, which contract() broadcast to;
    // expand() only matters for a subscript no operand holds larger than 1.
    const permuted = permute(acc.t, output.map((l) => acc.labels.indexOf(l)));
    const shape = output.map((l) => sizes.get(l)?.size ?? 1);
    return permuted.shape.every((d, i) => d === shape[i]) ? permuted : expand(permuted, shape);
  });
}
