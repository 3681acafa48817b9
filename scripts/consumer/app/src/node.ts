// SPDX-License-Identifier: MIT
// The consumer project's Node entry: `node out/node.js <cpu|webgpu> <dir>` registers the
// backends from the published packages, runs the workload, saves and loads a safetensors file
// in `dir` (@heed/nn's Node file helpers), and prints the result as one JSON line.
import { join } from 'node:path';
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { webgpuBackend } from '@heed/backend-webgpu';
import { loadFile, saveFile } from '@heed/nn';
import { workload } from './workload.js';

const [backendName = 'cpu', dir = '.'] = process.argv.slice(2);
registerBackend(cpuBackend);
registerBackend(webgpuBackend);
const backend = await setBackend(backendName);
const result = await workload();

const file = join(dir, `weights-${backendName}.safetensors`);
const w = tensor([1.5, 2.5, -1]);
await saveFile(file, { w });
w.dispose();
const { tensors } = await loadFile(file);
const fileValues = Array.from((await tensors.get('w')?.data()) ?? []);
for (const t of tensors.values()) t.dispose();

console.log(JSON.stringify({ backend: backend.name, fileValues, ...result }));
