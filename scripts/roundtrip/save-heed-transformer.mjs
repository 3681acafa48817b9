// SPDX-License-Identifier: MIT
// Model round trip, Heed side: builds a seeded Heed nn.Transformer (2+2 layers), runs it on a
// fixed input, and saves its state dict plus the input and output to one safetensors file,
// which scripts/roundtrip/check_in_torch.py loads into torch.nn.Transformer and compares.
// Usage (after npm run build): node scripts/roundtrip/save-heed-transformer.mjs /tmp/heed-model.safetensors
import { Generator, manualSeed, noGrad, randn, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Transformer, saveFile } from '@heed/nn';

registerBackend(cpuBackend);
await setBackend('cpu');
manualSeed(7);

const out = process.argv[2] ?? '/tmp/heed-model.safetensors';
const model = new Transformer({ dModel: 16, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 32, dropout: 0, batchFirst: true });
model.eval();
const g = new Generator(11);
const src = randn([2, 5, 16], { generator: g });
const tgt = randn([2, 4, 16], { generator: g });
const y = noGrad(() => model.forward(src, tgt, {}));
const tensors = new Map(model.stateDict());
tensors.set('__input_src', src);
tensors.set('__input_tgt', tgt);
tensors.set('__output', y);
await saveFile(out, tensors, { config: JSON.stringify({ d_model: 16, nhead: 4, num_encoder_layers: 2, num_decoder_layers: 2, dim_feedforward: 32 }) });
console.log(`wrote ${out}: ${model.stateDict().size} parameters/buffers + input/output`);
