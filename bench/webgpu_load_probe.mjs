// SPDX-License-Identifier: MIT
// Where a multiply-add's operand may come from on this WebGPU adapter, and what each source
// costs (issue #13, SwiftShader): 64 multiply-adds per loop step, 64 x 64 invocations, the
// operand read from (a) registers, (b) workgroup memory at a constant index, (c) workgroup
// memory at a computed index, (d) a storage buffer at a constant index, (e) a private array at a
// constant index, (f) storage at a per-invocation (lane-sequential) index, (g) storage at an
// index equal across invocations, (h, i) the same two through atomicLoad. GFLOP/s, best of 4.
// On SwiftShader: registers and private arrays ~10-11, every storage load ~1.5-2.5 (a per-lane
// gather, also at constant indices, since robustness clamps them), workgroup memory (with the
// barrier that makes it useful) ~0.5, atomics ~0.3: so a matmul can only win by keeping more
// operands in registers per load, never by staging through workgroup memory.
// Part 2 times a 4x4 and an 8x8 register block (the blocked matmul's inner step) with its A and B
// operands from scalar storage, array<vec4<f32>> storage, a uniform buffer, an rgba32float or an
// r32float texture (textureLoad), or made in registers (the block's ceiling). On SwiftShader
// none beat scalar storage by more than ~1.3x in any run (bench/README.md, WebGPU section).
// usage: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json chrt -r 10 node bench/webgpu_load_probe.mjs
import { openDevice, timeKernel } from './webgpu_timing.mjs';

const { gpu, device } = await openDevice(); // keep `gpu` referenced: Dawn tears the device down when it is collected
const out = device.createBuffer({ size: 1 << 20, usage: 0x80 });
const src = device.createBuffer({ size: 1 << 22, usage: 0x80 });
const src2 = device.createBuffer({ size: 1 << 22, usage: 0x80 });
const rep = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join(' ');
const ITER = 100;
const variants = {
  regs: (i) => `c${i} = fma(x${i % 4}, y, c${i});`,
  wgconst: (i) => `c${i} = fma(tA[${i}u], y, c${i});`,
  wgdyn: (i) => `c${i} = fma(tA[(k + ${i}u) & 255u], y, c${i});`,
  storconst: (i) => `c${i} = fma(X[${i}u], y, c${i});`,
  privconst: (i) => `c${i} = fma(pa[${i}], y, c${i});`,
  storSeq: (i) => `c${i} = fma(X[base + ${i * 64}u], y, c${i});`,
  storUniform: (i) => `c${i} = fma(X[ubase + ${i}u], y, c${i});`,
  atomicSeq: (i) => `c${i} = fma(bitcast<f32>(atomicLoad(&XA[base + ${i * 64}u])), y, c${i});`,
  atomicUniform: (i) => `c${i} = fma(bitcast<f32>(atomicLoad(&XA[ubase + ${i}u])), y, c${i});`,
};
for (const [name, f] of Object.entries(variants)) {
  const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> XA: array<atomic<u32>>;
var<workgroup> tA: array<f32, 256>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  tA[lid] = f32(lid); tA[lid + 64u] = 1.0; tA[lid+128u] = 2.0; tA[lid+192u]=3.0;
  var pa: array<f32, 16>;
  ${rep(16, (i) => `pa[${i}] = f32(g.x) + ${i}.0;`)}
  workgroupBarrier();
  let x0 = f32(g.x) * 1e-6; let x1 = x0 + 1.0; let x2 = x0 + 2.0; let x3 = x0 + 3.0; let y = 0.999;
  ${rep(16, (i) => `var c${i} = x0 + ${i}.0;`)}
  for (var k = 0u; k < ${ITER}u; k++) {
    let base = lid + (k & 63u) * 1024u; let ubase = (k & 63u) * 16u;
    ${rep(4, () => rep(16, f))}
  }
  if (g.x == 1000000u) { o[1] = X[0] + bitcast<f32>(atomicLoad(&XA[0])); }
  o[g.x] = ${rep(16, (i) => `c${i}`).replaceAll(' ', ' + ')};
}`;
  const ms = await timeKernel(device, code, [out, src, src2], 64);
  console.log(`${name}: ${((2 * 64 * ITER * 64 * 64) / ms / 1e6).toFixed(2)} GFLOP/s`);
}

// Part 2: a T x T register block (T = 4, 8), as in the blocked matmul: per depth step T A and
// T B operands (per-invocation addresses) and T*T multiply-adds. Operand sources: none (values
// made in registers: the block's own ceiling), scalar storage loads (today's kernel),
// array<vec4<f32>> storage, a uniform array<vec4<f32>> (16 KiB), an rgba32float texture (T/4
// texels per operand strip) and an r32float texture (T texels), the textures via textureLoad.
const tex = (format, width) => device.createTexture({ size: [width, 64], format, usage: 0x04 | 0x02 }).createView(); // TEXTURE_BINDING | COPY_DST
const ubuf = device.createBuffer({ size: 16 * 1024, usage: 0x40 }); // UNIFORM
const vecSplit = (T) => `${rep(T, (i) => `let a${i} = va${i >> 2}[${i & 3}];`)} ${rep(T, (i) => `let b${i} = vb${i >> 2}[${i & 3}];`)}`;
const sources = (T) => ({
  registers: { bind: 'var<storage, read> S: array<f32>;', res: () => ({ buffer: src }),
    load: `let fk = f32(k) * 1e-3; ${rep(T, (i) => `let a${i} = fk + ${i}.0;`)} ${rep(T, (i) => `let b${i} = fk - ${i}.0;`)}` },
  storageScalar: { bind: 'var<storage, read> S: array<f32>;', res: () => ({ buffer: src }),
    load: `let ia = (kk * 64u + lid) * ${T}u; let ib = (kk * 64u + (lid ^ 7u)) * ${T}u + 131072u;
    ${rep(T, (i) => `let a${i} = S[ia + ${i}u];`)} ${rep(T, (i) => `let b${i} = S[ib + ${i}u];`)}` },
  storageVec4: { bind: 'var<storage, read> S: array<vec4<f32>>;', res: () => ({ buffer: src }),
    load: `let ia = (kk * 64u + lid) * ${T / 4}u; let ib = (kk * 64u + (lid ^ 7u)) * ${T / 4}u + 32768u;
    ${rep(T / 4, (j) => `let va${j} = S[ia + ${j}u]; let vb${j} = S[ib + ${j}u];`)} ${vecSplit(T)}` },
  uniformVec4: { bind: 'var<uniform> S: array<vec4<f32>, 1024>;', res: () => ({ buffer: ubuf }),
    load: `let ia = ((kk * 64u + lid) * ${T / 4}u) & 511u; let ib = (((kk * 64u + (lid ^ 7u)) * ${T / 4}u) & 511u) + 512u;
    ${rep(T / 4, (j) => `let va${j} = S[ia + ${j}u]; let vb${j} = S[ib + ${j}u];`)} ${vecSplit(T)}` },
  textureRgba32f: { bind: 'var S: texture_2d<f32>;', res: () => tex('rgba32float', 512),
    load: `let xa = i32(lid * ${T / 4}u); let xb = i32((lid ^ 7u) * ${T / 4}u + 256u); let y = i32(kk);
    ${rep(T / 4, (j) => `let va${j} = textureLoad(S, vec2<i32>(xa + ${j}, y), 0); let vb${j} = textureLoad(S, vec2<i32>(xb + ${j}, y), 0);`)} ${vecSplit(T)}` },
  textureR32f: { bind: 'var S: texture_2d<f32>;', res: () => tex('r32float', 1024),
    load: `let xa = i32(lid * ${T}u); let xb = i32((lid ^ 7u) * ${T}u + 512u); let y = i32(kk);
    ${rep(T, (i) => `let a${i} = textureLoad(S, vec2<i32>(xa + ${i}, y), 0).x;`)} ${rep(T, (i) => `let b${i} = textureLoad(S, vec2<i32>(xb + ${i}, y), 0).x;`)}` },
});
for (const T of [4, 8]) {
  const U = Math.max(1, 64 / (T * T)); // depth steps per loop iteration: >= 64 multiply-adds each
  const ITER2 = 16384 / (T * T * U); // 16384 multiply-adds per invocation
  const decl = rep(T, (p) => rep(T, (q) => `var c${p}_${q} = f32(lid) + ${p * T + q}.0;`));
  const fmas = rep(T, (p) => rep(T, (q) => `c${p}_${q} = fma(a${p}, b${q}, c${p}_${q});`));
  const sum = rep(T, (p) => rep(T, (q) => `c${p}_${q}`)).replaceAll(' ', ' + ');
  for (const [name, s] of Object.entries(sources(T))) {
    const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) ${s.bind}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${decl}
  for (var k = 0u; k < ${ITER2}u; k++) {
    ${rep(U, (u) => `{ let kk = (k * ${U}u + ${u}u) & 63u;
    ${s.load}
    ${fmas} }`, '\n    ')}
  }
  o[g.x] = ${sum};
  if (g.x == 1000000u) { o[0] = ${name === 'registers' ? 'S[0]' : '0.0'}; }
}`;
    let best;
    try {
      best = await timeKernel(device, code, [out, s.res()], 64);
    } catch (e) {
      console.log(`${T}x${T} block, ${name}:`, e.message);
      continue;
    }
    console.log(`${T}x${T} block, operands from ${name}: ${((2 * T * T * U * ITER2 * 64 * 64) / best / 1e6).toFixed(2)} GFLOP/s`);
  }
}
process.exit(0);
