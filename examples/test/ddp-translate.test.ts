// SPDX-License-Identifier: MIT
// Data-parallel equivalence of translate-numbers (--quick --dropout 0, global batch 32, built
// packages, worker-thread ranks) against `--ranks 1`: one run of 4 steps resumed across world
// sizes — steps 1-2 on 4 ranks, step 3 on 2 ranks with noSync accumulation (--accumulate 2),
// step 4 on 2 ranks — has every step's reduced gradients within 1e-6, per-step losses and the
// summary.json final loss within 1e-4 relative, and the final parameters within 1e-4 (see
// expectWeightsNear); so does `mpirun -np 2` of the script (the MPI transport; skipped with a
// message where the binding is not built). A rank that throws makes the run exit 1 with a
// HeedError (SpawnError) naming it. Skipped when the packages are not built. Every run pins
// `--cpu wasm`: worker-thread ranks use the WASM kernels, and a native `--ranks 1` would differ by
// its kernels' rounding, not by data parallelism.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { loadFile } from '@heed/nn';
import { mpiAvailable } from '@heed/distributed/node';

const root = fileURLToPath(new URL('../../', import.meta.url));
const needed = ['core', 'backend-cpu', 'nn', 'models', 'train', 'distributed'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
const missing = needed.filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`[examples] skipping the data-parallel tests: the packages are not built (missing ${missing.join(', ')}).`);
const run = describe.skipIf(missing.length > 0);

const BASE = ['--cpu', 'wasm', '--quick', '--steps', '4', '--dropout', '0', '--eval-limit', '2', '--quiet', '--force'];

const SCRIPT = join(root, 'examples', 'translate-numbers', 'train.mjs');

/** Runs the script (or, with `mpiRanks`, `mpirun -np mpiRanks` of it). */
function train(args: string[], env: Record<string, string> = {}, mpiRanks = 0) {
  const [cmd, pre] = mpiRanks > 0
    ? ['mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(mpiRanks), process.execPath, SCRIPT]]
    : [process.execPath, [SCRIPT]];
  const r = spawnSync(cmd, [...pre, ...BASE, ...args], {
    cwd: root, encoding: 'utf8', timeout: 90_000, env: { ...process.env, NO_COLOR: '1', HEED_DIST_TIMEOUT_MS: '20000', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function trainOk(args: string[], mpiRanks = 0): void {
  const r = train(args, {}, mpiRanks);
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

interface Summary { finalTrainLoss: number; trainLosses: number[]; ranks: number; transport: string; steps: number }
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;

async function tensorsOf(file: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await loadFile(file);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of tensors) {
    out.set(k, Float32Array.from(t.dataSync() as Float32Array));
    t.dispose();
  }
  return out;
}

/** Every tensor of `got` within `atol + rtol * max|want|` of `want` elementwise (same keys). */
function expectTensorsNear(got: Map<string, Float32Array>, want: Map<string, Float32Array>, atol: number, rtol: number): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k) as Float32Array;
    const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    let diff = 0;
    for (let i = 0; i < w.length; i++) diff = Math.max(diff, Math.abs(g[i] - w[i]));
    expect(diff, `${k}: max |diff| ${diff} (max |value| ${scale})`).toBeLessThanOrEqual(atol + rtol * scale);
  }
}

/**
 * Final weights: the whole parameter vector within 1e-4 relative (||a - b|| / ||b||), and every
 * element within 1e-4. Not per tensor: attention key biases get only rounding noise as gradient
 * (softmax ignores a per-row shift), which AdamW scales up to ~lr / 10 per step, so those few
 * values differ by up to ~5e-5 between any two summation orders (1 rank included).
 */
function expectWeightsNear(got: Map<string, Float32Array>, want: Map<string, Float32Array>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  let d2 = 0;
  let w2 = 0;
  for (const [k, w] of want) {
    const g = got.get(k) as Float32Array;
    for (let i = 0; i < w.length; i++) {
      expect(Math.abs(g[i] - w[i]), `${k}[${i}]`).toBeLessThanOrEqual(1e-4);
      d2 += (g[i] - w[i]) ** 2;
      w2 += w[i] ** 2;
    }
  }
  expect(Math.sqrt(d2 / w2)).toBeLessThanOrEqual(1e-4);
}

function expectLossesNear(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]), `step ${i + 1}: ${v} vs ${want[i]}`).toBeLessThanOrEqual(1e-4 * Math.abs(want[i])));
}

run('translate-numbers data-parallel (worker-thread ranks)', () => {
  const dir = (name: string) => join(mkdtempSync(join(tmpdir(), 'heed-ddp-')), name);
  const one = dir('ranks1');
  const grads = async (out: string, step: number) => tensorsOf(join(out, 'grads', `step-${step}.safetensors`));
  beforeAll(async () => {
    registerBackend(cpuBackend);
    await setBackend('cpu');
    trainOk(['--ranks', '1', '--out', one, '--grad-dump', join(one, 'grads')]);
  }, 90_000);

  it('4 ranks, then 2 ranks with noSync accumulation, then 2 ranks (resumed each time) train the same model as 1 rank', async () => {
    const out = dir('ranks4-2');
    const ref = summaryOf(one);
    const dump = ['--grad-dump', join(out, 'grads')];
    trainOk(['--ranks', '4', '--stop-at', '2', '--out', out, ...dump]);
    expect(summaryOf(out)).toMatchObject({ ranks: 4, transport: 'threads', steps: 2 });
    // Step 3 on 2 ranks, each splitting its half of the global batch in 2 micro-batches (the first under noSync).
    trainOk(['--ranks', '2', '--accumulate', '2', '--stop-at', '3', '--resume', '--out', out, ...dump]);
    expect(summaryOf(out)).toMatchObject({ ranks: 2, accumulate: 2, steps: 3 });
    trainOk(['--ranks', '2', '--resume', '--out', out, ...dump]);
    const last = summaryOf(out);
    expect(last).toMatchObject({ ranks: 2, accumulate: 1, steps: 4 });
    for (const step of [1, 2, 3, 4]) expectTensorsNear(await grads(out, step), await grads(one, step), 1e-6, 0);
    expectLossesNear(last.trainLosses, ref.trainLosses);
    expect(Math.abs(last.finalTrainLoss - ref.finalTrainLoss)).toBeLessThanOrEqual(1e-4 * ref.finalTrainLoss);
    expectWeightsNear(await tensorsOf(join(out, 'model.safetensors')), await tensorsOf(join(one, 'model.safetensors')));
  }, 150_000);

  const mpi = missing.length > 0 ? { ok: false as const, reason: 'not built' } : mpiAvailable();
  if (!mpi.ok) console.warn(`[examples] skipping the mpirun equivalence test: ${mpi.reason}`);
  it.skipIf(!mpi.ok)('under mpirun -np 2 (the MPI transport) it trains the same model as 1 rank', async () => {
    const out = dir('mpi2');
    trainOk(['--out', out, '--grad-dump', join(out, 'grads')], 2);
    const ref = summaryOf(one);
    const s = summaryOf(out);
    expect(s).toMatchObject({ ranks: 2, transport: 'mpi', steps: 4 });
    for (const step of [1, 2, 3, 4]) expectTensorsNear(await grads(out, step), await grads(one, step), 1e-6, 0);
    expectLossesNear(s.trainLosses, ref.trainLosses);
    expectWeightsNear(await tensorsOf(join(out, 'model.safetensors')), await tensorsOf(join(one, 'model.safetensors')));
  }, 90_000);

  it('fails with a HeedError naming the rank when one rank throws', () => {
    const r = train(['--ranks', '2', '--steps', '3', '--out', dir('fail')], { HEED_EXAMPLE_FAIL_RANK: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/SpawnError: spawnThreads: rank 1 of 2 threw an error/);
    expect(r.stderr).toMatch(/rank 1 fails on purpose at step 2/);
  }, 60_000);
});
