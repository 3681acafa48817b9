// SPDX-License-Identifier: MIT
// Test helper: finds a WebGPU adapter (Dawn on SwiftShader in CI) once, or reports why not.
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp/xdg-runtime';

/** Kept referenced for the whole run: Dawn tears devices down when its instance is collected. */
export let gpuInstance: GPU | null = null;

/** A WebGPU device for tests, or null (tests then skip) with the reason printed. */
export async function testDevice(): Promise<GPUDevice | null> {
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(process.env.XDG_RUNTIME_DIR!, { recursive: true });
    const dawn = (await import('webgpu')) as { create(flags: string[]): GPU; globals: object };
    Object.assign(globalThis, dawn.globals);
    gpuInstance = dawn.create([]);
    const adapter = await gpuInstance.requestAdapter();
    if (!adapter) {
      console.warn('[webgpu tests] skipped: requestAdapter() returned null (install chromium + libvulkan1 for SwiftShader).');
      return null;
    }
    return await adapter.requestDevice({ requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
  } catch (e) {
    console.warn(`[webgpu tests] skipped: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

export const device = await testDevice();
