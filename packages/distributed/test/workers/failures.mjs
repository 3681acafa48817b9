// SPDX-License-Identifier: MIT
// A rank of the failure tests: every rank does one good allReduce, then rank `bad` misbehaves
// (`mode`: throw, process.exit, hang in a wait that never ends, call a different collective,
// or hang after the last collective) while the others go on with a second allReduce and let
// whatever it throws propagate to runWorker (which reports it to the launcher).
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { runWorker } from '@heed/distributed';

registerBackend(cpuBackend);
await setBackend('cpu');

const hangForever = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);

runWorker(async (group, { mode, bad }) => {
  const t = tensor([group.rank, 1, 2]);
  await group.allReduce([t]);
  if (group.rank === bad) {
    if (mode === 'throw') throw new Error(`boom from rank ${bad}`);
    if (mode === 'exit') process.exit(3);
    if (mode === 'hang') hangForever();
    if (mode === 'mismatch') await group.broadcast([t]);
  }
  await group.allReduce([t], { op: 'mean' });
  if (mode === 'hang-after' && group.rank === bad) hangForever();
  return Array.from(await t.data());
});
