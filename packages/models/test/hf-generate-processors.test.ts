// SPDX-License-Identifier: MIT
// Hugging Face's logits processors (hf/logits-process.ts) against the processor lists HF's own
// generate() builds for the same generation configs, applied to the same logits
// (fixtures/hf-generate/processors.json, scripts/fixtures/gen_hf_generate_fixtures.py): the same
// processors in the same order, the processed scores (the same -Infinity set) and their softmax
// within 1e-5; and the inverse-CDF draw.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processLogits, processorNames, sampleScores, softmaxRow, type LogitsProcessorSettings } from '@heed/models';

type Num = number | 'Infinity' | '-Infinity';
interface Case {
  name: string;
  options: Record<string, number | boolean | number[]>;
  prompt_length: number;
  processors: string[];
  scores: Num[][];
  probs: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/hf-generate/processors.json', import.meta.url), 'utf8')) as {
  input_ids: number[][];
  logits: number[][];
  cases: Case[];
};

/** The settings HF's generate() resolves from these generation_config fields (its global defaults filled in). */
function settings(o: Case['options']): LogitsProcessorSettings {
  const eos = o.eos_token_id;
  return {
    doSample: o.do_sample as boolean,
    temperature: (o.temperature as number | undefined) ?? 1,
    topK: (o.top_k as number | undefined) ?? 50,
    topP: (o.top_p as number | undefined) ?? 1,
    minP: o.min_p as number | undefined,
    repetitionPenalty: (o.repetition_penalty as number | undefined) ?? 1,
    minLength: (o.min_length as number | undefined) ?? 0,
    minNewTokens: o.min_new_tokens as number | undefined,
    eosTokenIds: eos === undefined ? [] : Array.isArray(eos) ? eos : [eos as number],
  };
}

const value = (v: Num): number => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v);

describe('HF logits processors', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: same processors, scores and distribution as HF`, () => {
      const s = settings(c.options);
      expect(processorNames(s)).toEqual(c.processors);
      fixture.logits.forEach((logits, b) => {
        const row = processLogits(Float32Array.from(logits), { ids: fixture.input_ids[b], promptLength: c.prompt_length }, s);
        const want = c.scores[b].map(value);
        want.forEach((w, i) => {
          if (w === -Infinity) expect(row[i], `${c.name} row ${b} token ${i} filtered`).toBe(-Infinity);
          else expect(Math.abs(row[i] - w), `${c.name} row ${b} token ${i}: ${row[i]} vs ${w}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w)));
        });
        const p = softmaxRow(row);
        c.probs[b].forEach((w, i) => expect(Math.abs(p[i] - w), `${c.name} row ${b} p[${i}]`).toBeLessThanOrEqual(1e-5));
      });
    });
  }

  it('the filters really filter (the fixture is not trivial)', () => {
    const filtered = fixture.cases.filter((c) => c.scores.some((r) => r.includes('-Infinity'))).map((c) => c.name);
    expect(filtered.length).toBeGreaterThanOrEqual(8);
  });

  it('sampleScores draws by inverse CDF and never draws a filtered token', () => {
    const row = Float32Array.from([Math.log(0.2), -Infinity, Math.log(0.5), Math.log(0.3)]);
    expect(sampleScores(row, 0)).toBe(0);
    expect(sampleScores(row, 0.19)).toBe(0);
    expect(sampleScores(row, 0.21)).toBe(2);
    expect(sampleScores(row, 0.69)).toBe(2);
    expect(sampleScores(row, 0.71)).toBe(3);
    expect(sampleScores(row, 0.999999)).toBe(3);
  });
});
