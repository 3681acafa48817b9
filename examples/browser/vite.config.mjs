// SPDX-License-Identifier: MIT
// Vite config of the browser demo. Dev and preview servers send COOP/COEP, so the page is
// cross-origin isolated and the CPU backend's WASM kernels get SharedArrayBuffer and threads.
// The training worker is an ES module worker (it code-splits the backends it loads on demand).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4096 },
});
