// SPDX-License-Identifier: MIT
// Job dispatch shared by the main thread and the workers. A job is a kernel kind, its
// argument slots and a number of independent blocks; threads claim blocks with an atomic
// counter (dynamic scheduling: a late or busy thread simply claims fewer).
// Control block layout (bytes from `ctrl`, all i32):
//   0 STATE  = generation << 8 | number of workers inside the current job
//             (odd generation = the main thread is writing a new job; even = published)
//   4 NEXT   next unclaimed block       8 DONE  finished blocks       12 NBLOCKS
//   16 KIND  kernel kind               20 ERROR set by a failing worker
//   24 QUIT  workers return when set   28 READY number of workers running their loop
//   64..     argument slots (32 x i32/f32) read by the kernels
// Protocol: the main thread moves STATE from (g, 0 inside) to g+1 with a compare-exchange
// (so no worker is inside), writes the job, stores STATE = g+2 and notifies. A worker enters
// a published generation it has not run by incrementing the inside count with a
// compare-exchange on the exact STATE it saw, runs blocks, and decrements on the way out.
import { gemmBlock } from './gemm';
import { adamBlock, binaryBlock, copyBlock, unaryBlock } from './elementwise';
import { layerNormBlock, reduceColsBlock, reduceRowsBlock, softmaxBlock } from './rows';

const STATE: usize = 0, NEXT: usize = 4, DONE: usize = 8, NBLOCKS: usize = 12, KIND: usize = 16;
const QUIT: usize = 24, READY: usize = 28, ARGS: usize = 64;

/** Kernel kinds (kept in sync with src/fast/ops.ts). */
export const K_GEMM = 0, K_BINARY = 1, K_UNARY = 2, K_SOFTMAX = 3, K_LAYERNORM = 4,
  K_REDUCE_ROWS = 5, K_REDUCE_COLS = 6, K_ADAM = 7, K_COPY = 8;

/** Runs block `block` of the job kind `kind` with arguments at `args`, as thread `tid`. */
export function execBlock(kind: i32, args: usize, block: i32, tid: i32): void {
  switch (kind) {
    case K_GEMM: gemmBlock(args, block, tid); break;
    case K_BINARY: binaryBlock(args, block); break;
    case K_UNARY: unaryBlock(args, block); break;
    case K_SOFTMAX: softmaxBlock(args, block); break;
    case K_LAYERNORM: layerNormBlock(args, block); break;
    case K_REDUCE_ROWS: reduceRowsBlock(args, block); break;
    case K_REDUCE_COLS: reduceColsBlock(args, block); break;
    case K_ADAM: adamBlock(args, block); break;
    case K_COPY: copyBlock(args, block); break;
    default: unreachable();
  }
}

/** Runs every block of the job at `ctrl` on the calling thread, without atomics. */
export function runLocal(ctrl: usize, kind: i32, nblocks: i32): void {
  for (let b = 0; b < nblocks; b++) execBlock(kind, ctrl + ARGS, b, 0);
}

/**
 * Claims and runs blocks of the current job until none are left; returns how many this
 * thread ran. The thread finishing the last block wakes the waiting main thread.
 */
export function runShared(ctrl: usize, tid: i32): i32 {
  const nblocks = load<i32>(ctrl + NBLOCKS);
  const kind = load<i32>(ctrl + KIND);
  let ran = 0;
  while (true) {
    const b = atomic.add<i32>(ctrl + NEXT, 1);
    if (b >= nblocks) break;
    execBlock(kind, ctrl + ARGS, b, tid);
    ran++;
    if (atomic.add<i32>(ctrl + DONE, 1) + 1 == nblocks) atomic.notify(ctrl + DONE);
  }
  return ran;
}

/**
 * A worker's whole life: wait for published jobs (spinning `spin` polls before sleeping in
 * memory.atomic.wait32), run their blocks, repeat until QUIT is set.
 */
export function workerLoop(ctrl: usize, tid: i32, spin: i32): void {
  let last: i32 = -1;
  let polls = 0;
  atomic.add<i32>(ctrl + READY, 1);
  while (true) {
    if (atomic.load<i32>(ctrl + QUIT) != 0) break;
    const s = atomic.load<i32>(ctrl + STATE);
    const gen = s >>> 8;
    if (gen == last || (gen & 1) != 0) {
      if (polls < spin) {
        polls++;
        continue;
      }
      atomic.wait<i32>(ctrl + STATE, s, 100_000_000); // re-check QUIT at least every 100 ms
      continue;
    }
    if (atomic.cmpxchg<i32>(ctrl + STATE, s, s + 1) != s) continue;
    runShared(ctrl, tid);
    last = gen;
    polls = 0;
    atomic.sub<i32>(ctrl + STATE, 1);
  }
  atomic.sub<i32>(ctrl + READY, 1);
}
