// SPDX-License-Identifier: MIT
// Two hosts on one machine: network namespaces A and B joined by a veth pair (10.77.0.1 and
// 10.77.0.2), mpirun started in A with `--host 10.77.0.1:1,10.77.0.2:1` and a launcher agent
// (mpi-scripts/netns-agent.sh) that runs the remote daemon with `ip netns exec B` where ssh
// would log in; only the TCP transport over that subnet is allowed, so rank 1's traffic must
// cross the veth (its byte counters are checked). The collectives must still match the
// rank-order oracle bit for bit, and a rank that throws on "host B" must be named on host A.
// Skipped, with a message, without mpirun or where namespaces cannot be made (not root, no `ip`).
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MPIRUN, SCRIPTS, ensureMpiBuilt, mpirun, type MpirunOptions } from './mpi-support.js';

const id = process.pid % 100000;
const NS = [`heedA${id}`, `heedB${id}`];
const VETH = [`hva${id}`, `hvb${id}`];
const ADDR = ['10.77.0.1', '10.77.0.2'];

function ip(...args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function cleanup(): void {
  for (const ns of NS) ip('netns', 'del', ns);
}

/** Whether a network namespace can be made here (made and removed at once): null if so, else why not. */
function probe(): string | null {
  if (MPIRUN === null) return 'mpirun is not installed';
  const name = `heedP${id}`;
  const r = ip('netns', 'add', name);
  if (!r.ok) return `\`ip netns add\` failed (${r.out.trim()}); network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2`;
  ip('netns', 'del', name);
  return null;
}

/** Makes the two namespaces and the veth pair (throws, after cleaning up, when a step fails). */
function makeHosts(): void {
  const steps: string[][] = [
    ['netns', 'add', NS[0]], ['netns', 'add', NS[1]],
    ['link', 'add', VETH[0], 'type', 'veth', 'peer', 'name', VETH[1]],
    ['link', 'set', VETH[0], 'netns', NS[0]], ['link', 'set', VETH[1], 'netns', NS[1]],
    ...[0, 1].flatMap((k) => [
      ['-n', NS[k], 'addr', 'add', `${ADDR[k]}/24`, 'dev', VETH[k]],
      ['-n', NS[k], 'link', 'set', VETH[k], 'up'], ['-n', NS[k], 'link', 'set', 'lo', 'up'],
    ]),
  ];
  for (const s of steps) {
    const r = ip(...s);
    if (!r.ok) {
      cleanup();
      throw new Error(`\`ip ${s.join(' ')}\` failed: ${r.out.trim()}`);
    }
  }
}

const why = probe();
if (why !== null) console.warn(`[mpi-netns] skipped: ${why}.`);

function txBytes(k: number): number {
  const r = ip('-j', '-s', '-n', NS[k], 'link', 'show', 'dev', VETH[k]);
  return Number((JSON.parse(r.out) as { stats64: { tx: { bytes: number } } }[])[0].stats64.tx.bytes);
}

const twoHosts: MpirunOptions = {
  prefix: ['ip', 'netns', 'exec', NS[0]],
  extra: [
    '--host', `${ADDR[0]}:1,${ADDR[1]}:1`, '--mca', 'plm_rsh_agent', `${SCRIPTS}netns-agent.sh`,
    '--mca', 'btl', 'tcp,self', '--mca', 'btl_tcp_if_include', '10.77.0.0/24', '--mca', 'oob_tcp_if_include', '10.77.0.0/24',
  ],
  env: { HEED_NETNS_HOSTS: `${ADDR[1]}=${NS[1]}` },
};

describe.skipIf(why !== null)('mpi transport across two hosts (network namespaces, TCP over a veth pair)', () => {
  beforeAll(() => {
    ensureMpiBuilt();
    makeHosts();
  }, 120_000);
  afterAll(cleanup);

  it('every collective matches the rank-order oracle bit for bit, and the bytes crossed the veth', () => {
    const before = [txBytes(0), txBytes(1)];
    const run = mpirun(2, 'collectives.mjs', ['10000'], twoHosts);
    const results = run.lines('RESULT');
    expect(results.map((r) => r.rank), run.output).toEqual([0, 1]);
    for (const r of results) expect(r.failed, run.output).toEqual([]);
    expect(results[0].digest).toBe(results[1].digest);
    expect(run.status).toBe(0);
    // Rank 1 alone sends its chunks of every reduction (70001 floats x 4 ops at least) through B's end.
    expect(txBytes(1) - before[1]).toBeGreaterThan(4 * 70001 * 4 / 2);
    expect(txBytes(0) - before[0]).toBeGreaterThan(4 * 70001 * 4 / 2);
  });

  it('rank 1 throwing on host B is named by rank 0 on host A', () => {
    const run = mpirun(2, 'failure.mjs', ['throw', '20000'], twoHosts);
    const c = run.lines('CAUGHT').filter((x) => x.rank === 0);
    expect(c.length, run.output).toBe(1);
    expect(c[0].name).toBe('DistributedError');
    expect(c[0].blamed).toBe(1);
    expect(c[0].message).toMatch(/rank 1 failed \(exited with code 1: Error: boom from rank 1\)/);
    expect(run.status).not.toBe(0);
  });
});
