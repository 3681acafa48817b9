// SPDX-License-Identifier: MIT
// What the raw WebGPU probes (webgpu_probe.mjs, webgpu_load_probe.mjs) share: opening a device on
// the adapter Heed's backend would find, and timing one WGSL compute kernel (best of 4 rounds of
// `reps` dispatches in one submit, after one warm-up submit).
// Invariants: the `gpu` object is handed back so that the caller keeps it referenced (Dawn tears
// the device down when it is collected); a kernel that does not compile throws with the
// compiler's messages.
import { findGpu } from '@heed/backend-webgpu';

/**
 * The WebGPU adapter and a device on it (SwiftShader here when VK_ICD_FILENAMES points at it).
 *
 * @example
 * const { gpu, adapter, device } = await openDevice(); // keep `gpu` referenced while `device` is used
 * @returns {Promise<{ gpu: GPU, adapter: GPUAdapter, device: GPUDevice }>}
 */
export async function openDevice() {
  const gpu = await findGpu();
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (set VK_ICD_FILENAMES for SwiftShader)');
  const device = await adapter.requestDevice();
  return { gpu, adapter, device };
}

/**
 * Best-of-4 milliseconds per dispatch of `reps` dispatches of `code` (entry point `main`) over
 * `groups` workgroups, its bindings 0, 1, ... of group 0 being `resources` (a GPUBuffer, or any
 * other binding resource such as a texture view).
 *
 * @example
 * const ms = await timeKernel(device, code, [out, src], 64);
 * @param {GPUDevice} device @param {string} code @param {(GPUBuffer | GPUBindingResource)[]} resources
 * @param {number} groups @param {number} [reps]
 */
export async function timeKernel(device, code, resources, groups, reps = 3) {
  const module = device.createShaderModule({ code });
  const { messages } = await module.getCompilationInfo();
  if (messages.some((m) => m.type === 'error')) throw new Error(messages.map((m) => m.message).join('; '));
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const entries = resources.map((r, binding) => ({ binding, resource: typeof r.mapAsync === 'function' ? { buffer: r } : r }));
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const once = async (n) => {
    const enc = device.createCommandEncoder();
    for (let r = 0; r < n; r++) {
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(groups);
      pass.end();
    }
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await once(1);
  let best = Infinity;
  for (let t = 0; t < 4; t++) {
    const t0 = performance.now();
    await once(reps);
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}
