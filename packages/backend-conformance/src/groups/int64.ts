// SPDX-License-Identifier: MIT
// int64 at the boundary on every backend: BigInt64Array / bigint data and `dtype: 'int64'` are
// uploaded as int32 (the backend only ever sees int32), read back exactly (negatives and both
// int32 bounds), index like int32 (gather, indexSelect, oneHot), and values outside int32 are a
// HeedError naming op, value and position, with nothing allocated on the backend.
import { gather, indexSelect, memory, oneHot, tensor, zeros } from '@heed/core';
import { ensure, expectHeedError, readHost } from '../assert.js';
import type { CaseContext, RunnableCase } from '../types.js';

const MIN = -(2n ** 31n);
const MAX = 2n ** 31n - 1n;

async function roundTrip(ctx: CaseContext): Promise<void> {
  const backend = ctx.backend;
  const t = tensor(new BigInt64Array([0n, -7n, MIN, MAX, 42n, -1n]), { shape: [2, 3], backend });
  ensure(t.dtype === 'int32', `BigInt64Array data gave dtype ${t.dtype}, want int32`);
  const data = await t.data();
  ensure(data instanceof Int32Array, () => `data() returned ${data.constructor.name}, want Int32Array`);
  ensure(Array.from(data).join() === [0, -7, -(2 ** 31), 2 ** 31 - 1, 42, -1].join(), () => `read [${Array.from(data)}]`);
  const nested = await readHost(tensor([[3n, -2n], [1n, 0n]], { backend }));
  ensure(nested.values.join() === '3,-2,1,0', () => `nested bigint arrays read [${nested.values}]`);
  const z = zeros([3], { dtype: 'int64', backend });
  ensure(z.dtype === 'int32', `zeros({ dtype: 'int64' }) gave ${z.dtype}`);
  for (const x of [t, z]) x.dispose();
}

async function indexing(ctx: CaseContext): Promise<void> {
  const backend = ctx.backend;
  const x = tensor([[10, 11, 12], [20, 21, 22]], { backend });
  const g = await readHost(gather(x, 1, tensor(new BigInt64Array([2n, 0n, 1n, 1n]), { shape: [2, 2], backend })));
  ensure(g.values.join() === '12,10,21,21', () => `gather with int64 ids gave [${g.values}]`);
  const s = await readHost(indexSelect(x, 0, tensor(new BigInt64Array([1n, 0n, 1n]), { backend })));
  ensure(s.values.join() === '20,21,22,10,11,12,20,21,22', () => `indexSelect with int64 ids gave [${s.values}]`);
  const o = await readHost(oneHot(tensor([2n, 0n], { backend }), 3));
  ensure(o.values.join() === '0,0,1,1,0,0', () => `oneHot with int64 ids gave [${o.values}]`);
}

async function overflow(ctx: CaseContext): Promise<void> {
  const backend = ctx.backend;
  const before = memory().numBuffers;
  expectHeedError(() => tensor(new BigInt64Array([1n, MAX + 1n]), { backend }), ['tensor', '2147483648', '[1]', 'int32']);
  expectHeedError(() => tensor(new BigInt64Array([1n, 2n, 3n, MIN - 1n]), { shape: [2, 2], backend }), ['tensor', '-2147483649', '[1, 1]']);
  expectHeedError(() => tensor([1, 2 ** 40], { dtype: 'int64', backend }), ['tensor', '1099511627776', '[1]']);
  ensure(memory().numBuffers === before, `rejected int64 data allocated ${memory().numBuffers - before} buffers`);
}

/**
 * The int64-boundary cases (group 'dtypes').
 *
 * @example
 * ```ts
 * int64Cases().map((c) => c.id); // ['dtypes/int64-round-trip', ...]
 * ```
 */
export function int64Cases(): RunnableCase[] {
  return [
    { id: 'dtypes/int64-round-trip', group: 'dtypes', op: 'tensor', dtypes: ['int32'], hasGradient: false, run: roundTrip },
    { id: 'dtypes/int64-indexing', group: 'dtypes', op: 'gather', dtypes: ['int32', 'float32'], hasGradient: false, run: indexing },
    { id: 'dtypes/int64-overflow', group: 'dtypes', op: 'tensor', dtypes: ['int32'], hasGradient: false, run: overflow },
  ];
}
