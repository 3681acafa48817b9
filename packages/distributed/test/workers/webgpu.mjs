// SPDX-License-Identifier: MIT
// A rank with its own WebGPU device (all ranks share the one adapter here: SwiftShader): its
// tensors live on the GPU, the collectives read them back to the host, reduce in rank order and
// upload the results to the rank's device.
import { registerBackend, setBackend, tensor } from '@heed/core';
import { webgpuBackend } from '@heed/backend-webgpu';
import { runWorker } from '@heed/distributed';
import { values } from './inputs.mjs';

registerBackend(webgpuBackend);
const backend = await setBackend('webgpu');

runWorker(async (group) => {
  const { rank } = group;
  const a = tensor(values(rank, 0, 1000), { shape: [10, 100] });
  const b = tensor(values(rank, 1, 3), { shape: [3] });
  await group.allReduce([a, b], { op: 'mean' });
  const c = tensor(values(rank, 2, 6), { shape: [6] });
  await group.broadcast([c], { src: 1 });
  const parts = await group.allGather(tensor(values(rank, 3, 4), { shape: [4] }));
  return {
    backend: backend.name, onDevice: [a, b, c, ...parts].every((t) => t.backend === backend),
    a: await a.data(), b: await b.data(), c: await c.data(), gathered: await Promise.all(parts.map((p) => p.data())),
  };
});
