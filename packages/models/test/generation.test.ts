// SPDX-License-Identifier: MIT
// Generation helpers on hand-made distributions: argmax ties, temperature and top-k
// probabilities, seeded sampling, and beam search finding the sequence greedy decoding
// misses (with the hypothesis scores computed by hand), batched, with state reordering.
import { describe, expect, it } from 'vitest';
import { Generator, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { argmaxRow, beamSearch, padBatch, sampleToken, samplingDistribution, type BeamStepper } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

describe('sampling', () => {
  it('argmax takes the first of equal maxima', () => {
    expect(argmaxRow([0.1, 3, 3, -1])).toBe(1);
    expect(argmaxRow(new Float32Array([5, 1, 7, 7]), 1, 3)).toBe(1);
  });

  it('computes tempered, top-k restricted probabilities', () => {
    const p = samplingDistribution([1, 2, 3], { temperature: 1, topK: 2 });
    const e = Math.exp(1);
    expect(p[0]).toBe(0);
    expect(p[1]).toBeCloseTo(1 / (1 + e), 12);
    expect(p[2]).toBeCloseTo(e / (1 + e), 12);
    const hot = samplingDistribution([0, Math.log(4)], { temperature: 2 });
    expect(hot[1]).toBeCloseTo(2 / 3, 12);
    expect(() => samplingDistribution([1, 2], { topK: 0 })).toThrow(/topK must be a positive integer/);
  });

  it('samples reproducibly from a Generator and only inside the top-k', async () => {
    const logits = [0, 2, 1.5, -3, 1.9];
    const draw = async (seed: number) => {
      const g = new Generator(seed);
      const out: number[] = [];
      for (let i = 0; i < 50; i++) out.push(await sampleToken(logits, { temperature: 1, topK: 2, generator: g }));
      return out;
    };
    const a = await draw(1);
    expect(await draw(1)).toEqual(a);
    expect(new Set(a)).toEqual(new Set([1, 4]));
    expect(await sampleToken(logits, { temperature: 0 })).toBe(1);
  });
});

/** A stepper over a fixed table: next-token probabilities by the last token (vocab: 0 pad, 1 bos, 2 eos, 3 A, 4 B, 5 C). */
function tableStepper(table: Record<number, number[]>, rows: number): BeamStepper & { reorders: number[][] } {
  const reorders: number[][] = [];
  return {
    vocabSize: 6,
    reorders,
    async step(tokens) {
      expect(tokens).toHaveLength(rows);
      const out = new Float32Array(rows * 6).fill(-Infinity);
      tokens.forEach((t, r) => (table[t] ?? [0, 0, 1, 0, 0, 0]).forEach((p, v) => { out[r * 6 + v] = Math.log(p); }));
      return out;
    },
    reorder(index) {
      reorders.push([...index]);
    },
  };
}

describe('beamSearch', () => {
  // Greedy: A (0.5) then A -> {B 0.35, C 0.35, eos 0.3} -> B -> eos: 0.5 * 0.35 = 0.175.
  // Best: B (0.45) then eos (0.9): 0.405.
  const table = {
    1: [0, 0, 0.05, 0.5, 0.45, 0],
    3: [0, 0, 0.3, 0, 0.35, 0.35],
    4: [0, 0, 0.9, 0, 0.1, 0],
    5: [0, 0, 1, 0, 0, 0],
  };

  it('finds the best sequence that greedy misses, with exact scores', async () => {
    const greedy = await beamSearch(tableStepper(table, 1), { batchSize: 1, beamSize: 1, bosId: 1, eosId: 2, maxLen: 5 });
    expect(greedy[0][0].tokens).toEqual([3, 4]);
    expect(greedy[0][0].logProb).toBeCloseTo(Math.log(0.5 * 0.35 * 0.9), 6);
    const beam = await beamSearch(tableStepper(table, 2), { batchSize: 1, beamSize: 2, bosId: 1, eosId: 2, maxLen: 5 });
    expect(beam[0][0].tokens).toEqual([4]);
    expect(beam[0][0].logProb).toBeCloseTo(Math.log(0.45 * 0.9), 6);
    expect(beam[0][0].score).toBeCloseTo(Math.log(0.405), 6);
    expect(beam[0].length).toBe(2);
    expect(beam[0][1].score).toBeLessThan(beam[0][0].score);
  });

  it('runs sources independently in one batch and reorders rows within each source', async () => {
    const stepper = tableStepper(table, 6);
    const res = await beamSearch(stepper, { batchSize: 2, beamSize: 3, bosId: 1, eosId: 2, maxLen: 5 });
    expect(res[0][0].tokens).toEqual([4]);
    expect(res[1][0].tokens).toEqual([4]);
    for (const index of stepper.reorders) {
      index.forEach((from, row) => expect(Math.floor(from / 3)).toBe(Math.floor(row / 3)));
    }
  });

  it('length-normalises scores when asked', async () => {
    const res = await beamSearch(tableStepper(table, 2), { batchSize: 1, beamSize: 2, bosId: 1, eosId: 2, maxLen: 5, lengthPenalty: 1 });
    for (const h of res[0]) expect(h.score).toBeCloseTo(h.logProb / (h.tokens.length + 1), 6);
  });

  it('pads batches and validates options', async () => {
    expect(await padBatch([[5, 6, 7], [8]], 0).array()).toEqual([[5, 6, 7], [8, 0, 0]]);
    expect(() => padBatch([[1, 2, 3]], 0, 2)).toThrow(/more than the length 2/);
    await expect(beamSearch(tableStepper(table, 1), { batchSize: 1, beamSize: 0, bosId: 1, eosId: 2, maxLen: 5 })).rejects.toThrow(/beamSize/);
  });
});
