// SPDX-License-Identifier: MIT
// Browser entry of the real-browser test: registers the WebGPU backend through
// navigator.gpu, runs the shared training loop and publishes the losses on window.
import { registerBackend, setBackend } from '@heed/core';
import { webgpuBackend } from '@heed/backend-webgpu';
import { trainLoop } from './train-loop.js';

declare global {
  interface Window { heedResult?: { losses?: number[]; error?: string; adapter?: string } }
}

async function main(): Promise<void> {
  try {
    registerBackend(webgpuBackend);
    const backend = await setBackend('webgpu');
    const losses = await trainLoop();
    window.heedResult = { losses, adapter: backend.name };
  } catch (e) {
    window.heedResult = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  }
}

void main();
