// SPDX-License-Identifier: MIT
// Sweep of WGSL matmul variants for software adapters (SwiftShader): generates kernels over
// register block (tm x tn outputs per invocation), workgroup shape, output mapping (an
// invocation's columns adjacent, 'block', or strided by the workgroup width, 'stride', so that
// adjacent invocations = adjacent SIMD lanes own adjacent columns) and K-loop unrolling; checks
// each result against a CPU reference and prints GFLOP/s per shape, operand layout (plain, A^T,
// B^T) and variant, on Dawn devices with robustness on and off. The library's own 'blocked'
// and 'tiled' kernels run as baselines.
// usage: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json chrt -r 10 node bench/webgpu_matmul_sweep.mjs
//   [--robust=on|off|both] [--shapes=step|big|all|BxMxNxK,...] [--layouts=plain,AT,BT] [--only=REGEX] [--set=quick|wide|sg|final]
// --set=final: only the library's 'blocked' and 'subgroup' kernels (before/after figures).
import { create, globals } from 'webgpu';
import { matmulKernel } from '../packages/backend-webgpu/dist/matmul.js';

Object.assign(globalThis, globals);
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')).map(([k, v]) => [k, v ?? 'true']));

const HEAD = `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;`;
const rep = (n, f, sep = ' ') => Array.from({ length: n }, (_, i) => f(i)).join(sep);

/**
 * A generated variant: tm x tn outputs per invocation, workgroup wx x wy; rows and cols 'block'
 * (an invocation's outputs adjacent) or 'stride' (strided by wy / wx); unroll: K steps per loop trip.
 */
function genKernel({ tm, tn, wx, wy, rows, cols, unroll }) {
  const BM = tm * wy, BN = tn * wx;
  const rowOf = (p) => (rows === 'block' ? `r0 + lid.y * ${tm}u + ${p}u` : `r0 + lid.y + ${p * wy}u`);
  const colOf = (q) => (cols === 'block' ? `c0 + lid.x * ${tn}u + ${q}u` : `c0 + lid.x + ${q * wx}u`);
  const step = (j) => `${rep(tm, (p) => `let a${p} = A[oa${p}${j ? ` + ka${j}` : ''}];`)}
      ${rep(tn, (q) => `let b${q} = B[ob${q}${j ? ` + kb${j}` : ''}];`)}
      ${rep(tm, (p) => rep(tn, (q) => `c${p}_${q} = fma(a${p}, b${q}, c${p}_${q});`), '\n      ')}`;
  const adv = (na, nb) => `${rep(tm, (p) => `oa${p} = oa${p} + ${na};`)} ${rep(tn, (q) => `ob${q} = ob${q} + ${nb};`)}`;
  const unrolled = unroll > 1 ? `
  ${rep(unroll - 1, (j) => `let ka${j + 1} = ${j + 1}u * aSk; let kb${j + 1} = ${j + 1}u * bSk;`)}
  let kaU = ${unroll}u * aSk; let kbU = ${unroll}u * bSk;
  for (; k + ${unroll}u <= K; k = k + ${unroll}u) {
    {
      ${rep(unroll, (j) => step(j), '\n    }\n    {\n      ')}
    }
    ${adv('kaU', 'kbU')}
  }` : '';
  return `${HEAD}
@compute @workgroup_size(${wx}, ${wy}) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = md[1]; let N = md[2]; let K = md[3];
  let b = md[12] + wg.z;
  let aBase = md[4] + b * md[5]; let aSm = md[6]; let aSk = md[7];
  let bBase = md[8] + b * md[9]; let bSk = md[10]; let bSn = md[11];
  let ob = b * M * N;
  let r0 = wg.y * ${BM}u; let c0 = wg.x * ${BN}u;
  ${rep(tm, (p) => `var oa${p} = aBase + min(${rowOf(p)}, M - 1u) * aSm;`)}
  ${rep(tn, (q) => `var ob${q} = bBase + min(${colOf(q)}, N - 1u) * bSn;`)}
  ${rep(tm, (p) => rep(tn, (q) => `var c${p}_${q} = 0.0;`), '\n  ')}
  var k = 0u;${unrolled}
  for (; k < K; k = k + 1u) {
    {
      ${step(0)}
    }
    ${adv('aSk', 'bSk')}
  }
  ${rep(tm, (p) => `{ let row = ${rowOf(p)}; if (row < M) {\n    ${rep(tn, (q) => `{ let col = ${colOf(q)}; if (col < N) { outBuf[ob + row * N + col] = c${p}_${q}; } }`, '\n    ')}\n  } }`, '\n  ')}
}\n`;
}

/**
 * A subgroup variant (needs subgroups of 4, SwiftShader's SIMD width): 4 lanes share tm rows and
 * own 4*tn columns (lane l: columns cb + 4q + l). Each A value is loaded by one lane (lanes along
 * rows, aLane 'row', or along k, aLane 'k') and handed to the others with subgroupBroadcast, so a
 * SIMD gather of A fetches 4 useful values instead of one value 4 times.
 * Workgroup: wx = 4 * (subgroups across), wy = subgroups down.
 */
function genSubgroup({ tm, tn, wx, wy, aLane, unroll }) {
  const sx = wx / 4;
  const BM = tm * wy, BN = 4 * tn * sx;
  const J = tm / 4; // A gathers per k step (aLane 'row')
  const kStep = (kk, src) => `${rep(tn, (q) => `let b${q} = B[ob${q}${kk ? ` + kb${kk}` : ''}];`)}
      ${rep(tm, (p) => `{ let a = ${src(p)}; ${rep(tn, (q) => `c${p}_${q} = fma(a, b${q}, c${p}_${q});`)} }`, '\n      ')}`;
  let body;
  if (aLane === 'row') {
    // one k step per trip (x unroll): lane l loads rows rb + 4j + l
    const one = (kk) => `${rep(J, (j) => `let ga${j} = A[oa${j}${kk ? ` + ka${kk}` : ''}];`)}
      ${kStep(kk, (p) => `subgroupBroadcast(ga${Math.floor(p / 4)}, ${p % 4}u)`)}`;
    body = { per: unroll, code: rep(unroll, (kk) => `{\n      ${one(kk)}\n    }`, '\n    '), advA: (n) => rep(J, (j) => `oa${j} = oa${j} + ${n};`) };
  } else {
    // 4 k steps per trip: lane l loads A[rb + p, k + l]; broadcast lane kk gives step kk
    const code = `${rep(tm, (p) => `let ga${p} = A[oa${p} + lk];`)}
    ${rep(4, (kk) => `{\n      ${kStep(kk, (p) => `subgroupBroadcast(ga${p}, ${kk}u)`)}\n    }`, '\n    ')}`;
    body = { per: 4, code, advA: (n) => rep(tm, (p) => `oa${p} = oa${p} + ${n};`) };
  }
  const aInit = aLane === 'row'
    ? rep(J, (j) => `var oa${j} = aBase + min(rb + ${4 * j}u + lane, M - 1u) * aSm;`)
    : rep(tm, (p) => `var oa${p} = aBase + min(rb + ${p}u, M - 1u) * aSm;`);
  // remainder: plain k steps, each lane loading its own A value (lane-redundant)
  const rem = `${rep(tm, (p) => `let a${p} = A[aBase + min(rb + ${p}u, M - 1u) * aSm + k * aSk];`)}
    ${rep(tn, (q) => `let b${q} = B[ob${q}];`)}
    ${rep(tm, (p) => rep(tn, (q) => `c${p}_${q} = fma(a${p}, b${q}, c${p}_${q});`), '\n    ')}
    ${rep(tn, (q) => `ob${q} = ob${q} + bSk;`)}`;
  return `enable subgroups;
${HEAD}
@compute @workgroup_size(${wx}, ${wy}) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let M = md[1]; let N = md[2]; let K = md[3];
  let b = md[12] + wg.z;
  let aBase = md[4] + b * md[5]; let aSm = md[6]; let aSk = md[7];
  let bBase = md[8] + b * md[9]; let bSk = md[10]; let bSn = md[11];
  let ob = b * M * N;
  let rb = wg.y * ${BM}u + lid.y * ${tm}u;
  let cb = wg.x * ${BN}u + (lid.x / 4u) * ${4 * tn}u + lane;
  ${aInit}
  ${rep(tn, (q) => `var ob${q} = bBase + min(cb + ${4 * q}u, N - 1u) * bSn;`)}
  ${rep(tm, (p) => rep(tn, (q) => `var c${p}_${q} = 0.0;`), '\n  ')}
  ${rep(body.per - 1, (j) => `let kb${j + 1} = ${j + 1}u * bSk;`)}${aLane === 'row' ? ` ${rep(body.per - 1, (j) => `let ka${j + 1} = ${j + 1}u * aSk;`)}` : ' let lk = lane * aSk;'}
  let kaU = ${body.per}u * aSk; let kbU = ${body.per}u * bSk;
  var k = 0u;
  for (; k + ${body.per}u <= K; k = k + ${body.per}u) {
    ${body.code}
    ${body.advA('kaU')} ${rep(tn, (q) => `ob${q} = ob${q} + kbU;`)}
  }
  for (; k < K; k = k + 1u) {
    ${rem}
  }
  ${rep(tm, (p) => `{ let row = rb + ${p}u; if (row < M) {\n    ${rep(tn, (q) => `{ let col = cb + ${4 * q}u; if (col < N) { outBuf[ob + row * N + col] = c${p}_${q}; } }`, '\n    ')}\n  } }`, '\n  ')}
}\n`;
}

function sgVariant(cfg) {
  const name = `sg${cfg.tm}x${cfg.tn} wg${cfg.wx}x${cfg.wy} a${cfg.aLane} u${cfg.aLane === 'k' ? 4 : cfg.unroll}`;
  return { name, code: genSubgroup(cfg), grid: (B, M, N) => [Math.ceil(N / (4 * cfg.tn * (cfg.wx / 4))), Math.ceil(M / (cfg.tm * cfg.wy)), B] };
}

function variant(cfg) {
  const name = `${cfg.tm}x${cfg.tn} wg${cfg.wx}x${cfg.wy} ${cfg.rows[0]}${cfg.cols[0]} u${cfg.unroll}`;
  return { name, code: genKernel(cfg), grid: (B, M, N) => [Math.ceil(N / (cfg.tn * cfg.wx)), Math.ceil(M / (cfg.tm * cfg.wy)), B] };
}
const library = (v, tm, tn, wx, wy) => ({ name: `lib:${v}`, code: matmulKernel(v), grid: (B, M, N) => [Math.ceil(N / (tn * wx)), Math.ceil(M / (tm * wy)), B] });

function variantSet(set) {
  const out = [library('blocked', 8, 8, 8, 8), library('subgroup', 8, 8, 4, 4)];
  if (set === 'final') return out;
  out.push(library('tiled', 4, 4, 16, 16));
  const blocks = set === 'wide' ? [[2, 4], [4, 2], [4, 4], [2, 8], [8, 2], [4, 8], [8, 4], [8, 8], [3, 4], [6, 4], [4, 6]] : [[4, 4], [2, 8], [4, 8], [8, 4], [8, 8]];
  const wgs = set === 'wide' ? [[8, 8], [16, 4], [4, 16], [64, 1], [16, 16], [32, 2]] : [[8, 8], [16, 4]];
  const maps = [['block', 'block'], ['block', 'stride']];
  const unrolls = set === 'wide' ? [1, 2, 4] : [1, 4];
  if (set !== 'sg') for (const [tm, tn] of blocks) for (const [wx, wy] of wgs) for (const [rows, cols] of maps) for (const unroll of unrolls) {
    out.push(variant({ tm, tn, wx, wy, rows, cols, unroll }));
  }
  if (set === 'sg' || set === 'wide') {
    for (const [tm, tn] of [[4, 2], [4, 4], [8, 2], [8, 4], [8, 6], [8, 8], [12, 4], [16, 2], [16, 4]]) for (const [wx, wy] of [[8, 8], [16, 4], [4, 16], [32, 2], [4, 4], [8, 2], [4, 8], [8, 4]]) {
      for (const [aLane, unroll] of [['row', 1], ['row', 2], ['k', 4]]) out.push(sgVariant({ tm, tn, wx, wy, aLane, unroll }));
    }
  }
  return out;
}

const STEP = [[1, 512, 128, 128], [1, 512, 512, 128], [1, 512, 128, 512], [1, 128, 128, 512], [32, 64, 64, 32], [32, 64, 32, 64]];
const BIG = [[1, 1024, 1024, 1024]];
function shapesArg(s = 'step') {
  if (s === 'step') return STEP;
  if (s === 'big') return BIG;
  if (s === 'all') return [...STEP, ...BIG];
  return s.split(',').map((t) => t.split('x').map(Number));
}

const values = (n, seed) => Float32Array.from({ length: n }, (_, i) => (((i + seed) * 7919) % 17) / 8 - 1);
/** [B, rows, cols] operand data laid out row-major, or column-major when transposed; with its strides. */
function operand(Bn, rows, cols, transposed, seed) {
  return { data: values(Bn * rows * cols, seed), strides: transposed ? [rows * cols, 1, rows] : [rows * cols, cols, 1] };
}
function reference(Bn, M, N, K, a, b) {
  const out = new Float32Array(Bn * M * N);
  for (let bi = 0; bi < Bn; bi++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let acc = 0;
    for (let k = 0; k < K; k++) acc += a.data[bi * a.strides[0] + m * a.strides[1] + k * a.strides[2]] * b.data[bi * b.strides[0] + k * b.strides[1] + n * b.strides[2]];
    out[(bi * M + m) * N + n] = acc;
  }
  return out;
}

async function device(robust) {
  const gpu = create(robust ? [] : ['enable-dawn-features=allow_unsafe_apis,disable_robustness']);
  const adapter = await gpu.requestAdapter();
  const dev = await adapter.requestDevice({ requiredFeatures: adapter.features.has('subgroups') ? ['subgroups'] : [], requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
  return { gpu, dev };
}

function buffer(dev, data, usage) {
  const buf = dev.createBuffer({ size: Math.max(16, data.byteLength), usage: usage | GPUBufferUsage.COPY_DST });
  dev.queue.writeBuffer(buf, 0, data);
  return buf;
}

/** Best ms of one dispatch of `v` (several per submit for small problems) and its max relative error. */
async function run(dev, v, prob) {
  const { Bn, M, N, K, bufs, ref } = prob;
  const module = dev.createShaderModule({ code: v.code });
  const pipeline = await dev.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const out = dev.createBuffer({ size: Bn * M * N * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const bind = dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [bufs.md, out, bufs.a, bufs.b].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const [x, y, z] = v.grid(Bn, M, N);
  const submit = async (reps) => {
    const enc = dev.createCommandEncoder();
    for (let r = 0; r < reps; r++) {
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline); pass.setBindGroup(0, bind); pass.dispatchWorkgroups(x, y, z); pass.end();
    }
    const t0 = performance.now();
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / reps;
  };
  const first = await submit(1);
  const read = dev.createBuffer({ size: Bn * M * N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = dev.createCommandEncoder();
  enc.copyBufferToBuffer(out, 0, read, 0, Bn * M * N * 4);
  dev.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  read.unmap(); read.destroy();
  let err = 0;
  for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - ref[i]) / (1 + Math.abs(ref[i])));
  const reps = Math.max(1, Math.min(8, Math.round(40 / Math.max(first, 0.1))));
  let best = Infinity;
  for (let t = 0; t < 3; t++) best = Math.min(best, await submit(reps));
  out.destroy();
  return { ms: best, err };
}

const robusts = { on: [true], off: [false], both: [false, true] }[args.robust ?? 'both'];
const devs = [];
for (const r of robusts) devs.push({ robust: r, ...(await device(r)) });
const only = args.only ? new RegExp(args.only) : null;
const variants = variantSet(args.set ?? 'quick').filter((v) => !only || v.name.startsWith('lib:') || only.test(v.name));
const layouts = (args.layouts ?? 'plain,AT,BT').split(',');
console.log(`${variants.length} variants; robustness ${robusts.map((r) => (r ? 'on' : 'off')).join('/')}; GFLOP/s (x = wrong result)`);
const summary = new Map();
for (const [Bn, M, N, K] of shapesArg(args.shapes)) {
  for (const layout of layouts) {
    const a = operand(Bn, M, K, layout === 'AT', 1), b = operand(Bn, K, N, layout === 'BT', 2);
    const ref = reference(Bn, M, N, K, a, b);
    const md = Uint32Array.from([Bn, M, N, K, 0, ...a.strides, 0, ...b.strides, 0, 1, 0, 0]); // matmul.ts md layout (one batch dim)
    const flop = 2 * Bn * M * N * K;
    for (const d of devs) {
      const S = GPUBufferUsage.STORAGE;
      const prob = { Bn, M, N, K, ref, bufs: { md: buffer(d.dev, md, S), a: buffer(d.dev, a.data, S), b: buffer(d.dev, b.data, S) } };
      const rows = [];
      for (const v of variants) {
        const { ms, err } = await run(d.dev, v, prob);
        const gf = flop / ms / 1e6;
        rows.push({ name: v.name, gf, ok: err < 1e-3 });
        const key = `${v.name}|${d.robust ? 'on' : 'off'}`;
        const s = summary.get(key) ?? { logSum: 0, n: 0, bad: 0 };
        s.logSum += Math.log(gf); s.n++; if (err >= 1e-3) s.bad++;
        summary.set(key, s);
      }
      rows.sort((p, q) => q.gf - p.gf);
      const base = rows.find((r) => r.name === 'lib:blocked').gf;
      console.log(`${Bn}x[${M}x${K}]${layout === 'AT' ? 'T' : ' '}·[${K}x${N}]${layout === 'BT' ? 'T' : ' '} robust ${d.robust ? 'on ' : 'off'} lib:blocked ${base.toFixed(2)} | ` +
        rows.slice(0, 8).map((r) => `${r.name} ${r.gf.toFixed(2)}${r.ok ? '' : 'x'}`).join(' | '));
      for (const bf of Object.values(prob.bufs)) bf.destroy();
    }
  }
}
console.log('geometric mean GFLOP/s over all cases (best 25 per robustness):');
for (const r of robusts.map((x) => (x ? 'on' : 'off'))) {
  const rows = [...summary].filter(([k]) => k.endsWith(`|${r}`)).map(([k, s]) => ({ name: k.split('|')[0], gm: Math.exp(s.logSum / s.n), bad: s.bad }));
  rows.sort((p, q) => q.gm - p.gm);
  const lib = rows.find((x) => x.name === 'lib:blocked');
  console.log(`robust ${r}: lib:blocked ${lib.gm.toFixed(2)}`);
  for (const x of rows.slice(0, 25)) console.log(`  ${x.name.padEnd(26)} ${x.gm.toFixed(2)} (${(x.gm / lib.gm).toFixed(2)}x)${x.bad ? ` WRONG in ${x.bad}` : ''}`);
}
process.exit(0);
