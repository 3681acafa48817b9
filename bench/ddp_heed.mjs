// SPDX-License-Identifier: MIT
// Data-parallel scaling of a synthetic training step on @heed/distributed's threads transport:
// each rank trains the same MLP (depth x [width, width] + relu, then [width, width] out; MSE
// loss) on its own batch of `--batch` samples, averages the gradients with one bucketed
// all-reduce and takes an SGD step (PyTorch DDP's weak scaling: fixed per-rank batch). Prints
// samples/s for each rank count, the speedup over 1 rank and the efficiency (samples/s at N /
// (N x samples/s at 1)), plus the share of the step spent in the all-reduce. With
// `--backend=webgpu` every rank opens its own WebGPU device (on the same adapter when there is
// only one, e.g. 1 vs 2 ranks sharing a GPU). Each rank's CPU pool gets hardware threads / N
// (spawnThreads sets HEED_CPU_THREADS), so the ranks do not oversubscribe the cores.
// Usage: node bench/ddp_heed.mjs [--ranks=1,2,4,8] [--backend=cpu|webgpu] [--batch=64]
//        [--width=512] [--depth=4] [--steps=10] [--warmup=2] [--json]   (needs `npm run build`)
// This file is also the workers' script.
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

function arg(name, fallback) {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

async function rank() {
  const heed = await import('@heed/core');
  const { runWorker } = await import('@heed/distributed');
  await runWorker(async (group, cfg, info) => {
    if (cfg.backend === 'webgpu') heed.registerBackend((await import('@heed/backend-webgpu')).webgpuBackend);
    else heed.registerBackend((await import('@heed/backend-cpu')).cpuBackend); // HEED_CPU_THREADS from spawnThreads
    const backend = await heed.setBackend(cfg.backend);
    const { width, depth, batch, steps, warmup, lr } = cfg;
    heed.manualSeed(1);
    const params = [];
    for (let l = 0; l <= depth; l++) params.push(heed.randn([width, width]).mul(1 / Math.sqrt(width)).detach());
    await group.broadcast(params, { src: 0 }); // DDP's start: everyone has rank 0's parameters
    heed.manualSeed(100 + group.rank); // each rank its own data
    const x = heed.randn([batch, width]);
    const y = heed.randn([batch, width]);
    const lossAndGrad = heed.valueAndGrad((...ps) => {
      let h = x;
      for (let l = 0; l < depth; l++) h = heed.relu(h.matmul(ps[l]));
      return h.matmul(ps[depth]).sub(y).square().mean();
    });
    let reduceMs = 0, t0 = 0, loss = NaN;
    for (let s = 0; s < warmup + steps; s++) {
      if (s === warmup) {
        await group.barrier();
        reduceMs = 0;
        t0 = performance.now();
      }
      const { value, grads } = lossAndGrad(...params);
      const r0 = performance.now();
      await group.allReduce(grads, { op: 'mean' });
      reduceMs += performance.now() - r0;
      heed.tidy(() => heed.noGrad(() => params.forEach((p, i) => p.assign(p.sub(grads[i].mul(lr))))));
      grads.forEach((g) => g.dispose());
      loss = (await value.data())[0];
      value.dispose();
    }
    await group.barrier();
    const ms = performance.now() - t0;
    const slowest = new Float64Array([ms, reduceMs]);
    await group.allReduceBuffer(slowest, 'max');
    return { ms: slowest[0], reduceMs: slowest[1], loss, cpuThreads: info.cpuThreads, device: backend.name };
  });
}

async function main() {
  const { spawnThreads } = await import('@heed/distributed/node');
  const { availableParallelism } = await import('node:os');
  const cfg = {
    backend: arg('backend', 'cpu'), width: Number(arg('width', '512')), depth: Number(arg('depth', '4')),
    batch: Number(arg('batch', '64')), steps: Number(arg('steps', '10')), warmup: Number(arg('warmup', '2')), lr: 1e-3,
  };
  const ranksList = arg('ranks', '1,2,4,8').split(',').map(Number);
  const flops = 6 * cfg.batch * cfg.width * cfg.width * (cfg.depth + 1); // forward + backward per rank per step
  console.log(`# ddp step: ${cfg.backend}, MLP ${cfg.depth + 1} x [${cfg.width}, ${cfg.width}], ${cfg.batch} samples/rank, ` +
    `${cfg.steps} steps, ${availableParallelism()} hardware threads, node ${process.version}`);
  console.log('| ranks | CPU threads/rank | step ms | samples/s | speedup | efficiency | all-reduce share | GFLOP/s |');
  console.log('|---|---|---|---|---|---|---|---|');
  let base = null;
  for (const n of ranksList) {
    const results = await spawnThreads(n, fileURLToPath(import.meta.url), { workerData: cfg, timeoutMs: 120_000 });
    const { ms, reduceMs, cpuThreads } = results[0];
    const stepMs = ms / cfg.steps;
    const sps = (n * cfg.batch * cfg.steps) / (ms / 1000);
    base ??= n === 1 ? sps : null;
    const speedup = base ? sps / base : NaN;
    const row = { suite: 'ddp', backend: cfg.backend, ranks: n, cpuThreads, stepMs, samplesPerSecond: sps, speedup, efficiency: speedup / n,
      allReduceShare: reduceMs / ms, gflops: (n * flops * cfg.steps) / (ms * 1e6), loss: results.map((r) => r.loss) };
    console.log(`| ${n} | ${cpuThreads ?? '-'} | ${stepMs.toFixed(1)} | ${sps.toFixed(0)} | ${base ? speedup.toFixed(2) : '-'} | ` +
      `${base ? `${(100 * row.efficiency).toFixed(0)}%` : '-'} | ${(100 * row.allReduceShare).toFixed(0)}% | ${row.gflops.toFixed(1)} |`);
    if (process.argv.includes('--json')) console.log(`RESULT ${JSON.stringify(row)}`);
  }
}

if (isMainThread) await main();
else await rank();
