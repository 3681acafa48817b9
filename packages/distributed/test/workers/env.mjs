// SPDX-License-Identifier: MIT
// A rank that reports its environment (torchrun's variables and HEED_CPU_THREADS, set by
// spawnThreads), runWorker's cpuThreads, and how many threads its own CPU backend's pool runs
// once its workers are up (waiting up to 5 s for them).
import { CpuBackend } from '@heed/backend-cpu';
import { runWorker } from '@heed/distributed';

runWorker(async (group, _data, info) => {
  const backend = new CpuBackend();
  const want = Number(process.env.HEED_CPU_THREADS);
  const deadline = Date.now() + 5000;
  while ((backend.fastInfo()?.threads ?? 1) < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const { RANK, WORLD_SIZE, LOCAL_RANK, HEED_CPU_THREADS } = process.env;
  return { rank: group.rank, RANK, WORLD_SIZE, LOCAL_RANK, HEED_CPU_THREADS, cpuThreads: info.cpuThreads, poolThreads: backend.fastInfo()?.threads ?? null };
});
