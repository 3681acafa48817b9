// SPDX-License-Identifier: MIT
// The GC safety net (gc-net.ts): tensors that nothing will dispose are reclaimed by the garbage
// collector when dropped undisposed — unscoped ones, a tidy's returned or kept values, those of
// an abandoned explicit scope — while tensors owned by a synchronous scope (tidy) are never
// registered with the FinalizationRegistry at all (each registration is old-space garbage).
// Runs in a child process with --expose-gc, so collections are forced and counted exactly.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import './setup.js';
import { createScope, endScope, keep, memory, ones, tidy, withScope } from '@heed/core';

/** Runs `body` (module code with `core` and `collect()` in scope) in a child Node with --expose-gc; returns what it printed as JSON. */
function inChild(body: string): Record<string, number> {
  const script = `
    const core = await import('@heed/core');
    const { cpuBackend } = await import('@heed/backend-cpu');
    core.registerBackend(cpuBackend);
    await core.setBackend('cpu');
    // a full GC, then turns of the event loop so FinalizationRegistry callbacks run
    const collect = async () => { for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 5)); } };
    const out = {};
    ${body}
    console.log('RESULT ' + JSON.stringify(out));`;
  const text = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)), maxBuffer: 1 << 20,
  });
  return JSON.parse(/RESULT (.*)/.exec(text)?.[1] ?? '{}') as Record<string, number>;
}

/** Counts FinalizationRegistry registrations of tensors while `fn` runs (the net's only registry holding tensors). */
function registrations(fn: () => void): number {
  const proto = FinalizationRegistry.prototype as unknown as { register(this: object, target: object, held: unknown, token?: object): void };
  const register = proto.register;
  let n = 0;
  proto.register = function (this: object, target: object, held: unknown, token?: object): void {
    if (token === target) n++;
    register.call(this, target, held, token);
  };
  try { fn(); } finally { proto.register = register; }
  return n;
}

describe('GC safety net', () => {
  afterEach(() => expect(memory().numTensors).toBeGreaterThanOrEqual(0));

  it('reclaims undisposed tensors nothing will dispose: unscoped, returned or kept from tidy, of an abandoned scope', () => {
    const r = inChild(`
      const base = core.memory();
      (() => { core.ones([1000]); })();                         // unscoped, dropped
      (() => { core.tidy(() => core.ones([8]).add(1)); })();    // a tidy's result, dropped
      (() => { core.tidy(() => { core.keep(core.ones([8]).mul(2)); }); })(); // kept, dropped
      (() => { const s = core.createScope(); core.withScope(s, () => core.ones([4]).exp()); })(); // scope never ended
      await collect();
      const after = core.memory();
      out.reclaimed = after.reclaimedByGC - base.reclaimedByGC;
      out.tensors = after.numTensors - base.numTensors;
      out.buffers = after.numBuffers - base.numBuffers;`);
    // the abandoned scope's two tensors (ones, exp) are both reclaimed
    expect(r).toEqual({ reclaimed: 5, tensors: 0, buffers: 0 });
  });

  it('never reclaims a tensor that was disposed, by hand or by its tidy', () => {
    const r = inChild(`
      const base = core.memory();
      (() => { const t = core.ones([16]); t.dispose(); })();
      (() => { core.tidy(() => { core.ones([16]).add(1).mul(3); }); })();
      (() => { const s = core.createScope(); core.withScope(s, () => core.ones([4]).exp()); core.endScope(s); })();
      await collect();
      const after = core.memory();
      out.reclaimed = after.reclaimedByGC - base.reclaimedByGC;
      out.buffers = after.numBuffers - base.numBuffers;`);
    expect(r).toEqual({ reclaimed: 0, buffers: 0 });
  });

  it('registers no tensor a tidy owns: only the value it hands to an unscoped caller', () => {
    const t = ones([4]);
    try {
      let y: ReturnType<typeof ones> | null = null;
      // 20 ops in a nested tidy: the inner result moves to the outer tidy (still synchronous), the outer's to no scope
      const n = registrations(() => {
        y = tidy(() => {
          const inner = tidy(() => { let a = t; for (let i = 0; i < 10; i++) a = a.add(1); return a; });
          let b = inner;
          for (let i = 0; i < 10; i++) b = b.mul(1);
          return b;
        });
      });
      expect(n).toBe(1);
      (y as unknown as { dispose(): void }).dispose();
      // keep() inside a tidy hands the tensor to no scope: it is watched from then on
      expect(registrations(() => { tidy(() => { keep(t.exp()).dispose(); }); })).toBe(1);
      // a tensor created in an explicit scope stays watched (the scope may never be ended)
      const s = createScope();
      expect(registrations(() => { withScope(s, () => t.exp()); })).toBe(1);
      endScope(s);
    } finally {
      t.dispose();
    }
  });
});
