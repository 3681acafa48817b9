// SPDX-License-Identifier: MIT
// A rank that manages its group itself: initProcessGroup() with no options must pick the
// threads transport inside a spawnThreads worker; destroy() reports the rank finished.
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { initProcessGroup } from '@heed/distributed';
import { workerData } from 'node:worker_threads';

registerBackend(cpuBackend);
await setBackend('cpu');
const group = await initProcessGroup();
const t = tensor([group.rank + 1]);
await group.allReduce([t]);
const got = (await t.data())[0];
const n = group.worldSize;
if (group.backend !== 'threads' || got !== (n * (n + 1)) / 2 || workerData.rank !== group.rank) throw new Error(`rank ${group.rank}: backend ${group.backend}, sum ${got}`);
await group.destroy();
