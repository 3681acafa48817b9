// SPDX-License-Identifier: MIT
// A rank with its own WebGPU device on the adapter adapterForRank picks for it from two entry
// points (here both the one SwiftShader adapter, so the ranks share it): its tensors live on
// the GPU, the collectives read them back to the host, reduce in rank order and upload the
// results to the rank's device.
import { registerBackend, setBackend, tensor } from '@heed/core';
import { createWebGPUBackend, findGpu } from '@heed/backend-webgpu';
import { adapterForRank, runWorker } from '@heed/distributed';
import { values } from './inputs.mjs';

runWorker(async (group) => {
  const { rank } = group;
  const gpu = await findGpu();
  const { adapter, index } = await adapterForRank(rank, [gpu, gpu]);
  const device = await createWebGPUBackend({ adapter });
  registerBackend({ name: 'webgpu', priority: 2, async: true, create: () => device });
  const backend = await setBackend('webgpu');
  const a = tensor(values(rank, 0, 1000), { shape: [10, 100] });
  const b = tensor(values(rank, 1, 3), { shape: [3] });
  await group.allReduce([a, b], { op: 'mean' });
  const c = tensor(values(rank, 2, 6), { shape: [6] });
  await group.broadcast([c], { src: 1 });
  const parts = await group.allGather(tensor(values(rank, 3, 4), { shape: [4] }));
  return {
    backend: backend.name, adapterIndex: index, onDevice: backend === device && [a, b, c, ...parts].every((t) => t.backend === backend),
    a: await a.data(), b: await b.data(), c: await c.data(), gathered: await Promise.all(parts.map((p) => p.data())),
  };
});
