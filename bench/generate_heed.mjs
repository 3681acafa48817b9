// SPDX-License-Identifier: MIT
// Tokens/s of greedy generation with @heed/models' Hugging Face `generate()` for a random
// GPT-2-small-shaped GPT2LMHeadModel (12 layers, 768 wide, 12 heads, vocab 50257 by default):
// a random prompt of --prompt tokens, --new new tokens, kv-cache, for each --batch size, eager
// (Heed has no compile() yet: #13), after a warm-up with a 4-token prompt. Reports the time to the
// first token (the prefill: the prompt through the model plus the first pick; it includes compiling
// any kernel only the prompt's shapes need), the decode rate after it and the overall rate,
// as RESULT lines (the peers harness format) and a markdown table, with the process CPU time
// (user + system, all threads) and the load average, since on a shared machine wall time mostly
// measures the contention. Checks that nothing leaks.
// usage: node bench/generate_heed.mjs [--backend=cpu|webgpu] [--batch=1,8] [--prompt=32] [--new=64]
//        [--layers=12] [--width=768] [--heads=12] [--vocab=50257]   CPU flags as in heed_setup.mjs
// Uses the built dist (npm run build).
import { parseArgs, emit } from '../../shared/peers/lib/common.mjs';
import os from 'node:os';
import { setupHeed } from './heed_setup.mjs';

const args = parseArgs();
const { heed, meta } = await setupHeed(args);
const { GPT2LMHeadModel, generate } = await import('@heed/models');

const num = (v, d) => (v === undefined ? d : Number(v));
const batches = String(args.batch ?? '1,8').split(',').map(Number);
const PROMPT = num(args.prompt, 32), NEW = num(args.new, 64);
const config = {
  model_type: 'gpt2', vocab_size: num(args.vocab, 50257), n_embd: num(args.width, 768), n_layer: num(args.layers, 12),
  n_head: num(args.heads, 12), n_positions: 1024, bos_token_id: 50256, eos_token_id: 50256,
};

let t0 = performance.now();
const model = new GPT2LMHeadModel(config);
model.eval();
const buildMs = performance.now() - t0;
const params = model.numParameters();
console.error(`# ${meta.backend}: GPT2LMHeadModel ${config.n_layer}x${config.n_embd}, vocab ${config.vocab_size}: ${(params / 1e6).toFixed(1)}M parameters, built in ${(buildMs / 1000).toFixed(1)} s`);

/** Greedy generation of NEW tokens after a random prompt [B, P]; times the first token and the rest. */
async function timed(B, newTokens, P = PROMPT) {
  const ids = new Int32Array(B * P);
  let s = 12345 + B;
  for (let i = 0; i < ids.length; i++) ids[i] = (s = (s * 1103515245 + 12345) % 2147483648) % config.vocab_size;
  const input = heed.tensor(ids, { shape: [B, P], dtype: 'int32' });
  const stamps = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const out = await generate(model, input, {
    maxNewTokens: newTokens, eosTokenId: null, padTokenId: null, onToken: () => stamps.push(performance.now()),
  });
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  if (out.shape[1] !== P + newTokens) throw new Error(`expected ${P + newTokens} positions, got ${out.shape[1]}`);
  out.dispose();
  input.dispose();
  return { totalMs: end - start, firstMs: stamps[0] - start, decodeMs: end - stamps[0], cpuS: (cpu.user + cpu.system) / 1e6 };
}

const rows = [];
for (const B of batches) {
  const before = heed.memory().numTensors;
  t0 = performance.now();
  await timed(B, 2, Math.min(PROMPT, 4)); // warm-up (short prompt): the decode step's kernels / shaders compiled, buffers pooled
  const warmMs = performance.now() - t0;
  const r = await timed(B, NEW);
  const leaked = heed.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`generate leaked ${leaked} tensors`);
  const rec = {
    ...meta, bench: 'generate', model: `gpt2-${config.n_layer}x${config.n_embd}`, vocab: config.vocab_size, batch: B, prompt: PROMPT,
    newTokens: NEW, warmupMs: warmMs, totalMs: r.totalMs, firstTokenMs: r.firstMs,
    decodeTokensPerS: ((NEW - 1) * B) / (r.decodeMs / 1000), tokensPerS: (NEW * B) / (r.totalMs / 1000),
    cpuSeconds: r.cpuS, tokensPerCpuS: (NEW * B) / r.cpuS, loadAverage: os.loadavg()[0],
    compiled: 'n/a: compile() not yet built (#13)',
  };
  emit(rec);
  rows.push(rec);
}

console.log(`\n| backend | batch | prompt | new | first token (s) | decode tokens/s | overall tokens/s | process CPU s | tokens / CPU s | load avg | compiled |`);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.backend} | ${r.batch} | ${r.prompt} | ${r.newTokens} | ${(r.firstTokenMs / 1000).toFixed(2)} | ${r.decodeTokensPerS.toFixed(2)} | ` +
    `${r.tokensPerS.toFixed(2)} | ${r.cpuSeconds.toFixed(1)} | ${r.tokensPerCpuS.toFixed(2)} | ${r.loadAverage.toFixed(1)} | ${r.compiled} |`);
}
model.dispose();
process.exit(0);
