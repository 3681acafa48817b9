// SPDX-License-Identifier: MIT
// The PyTorch 1.13 fixtures of packages/nn/fixtures/conv.json (scripts/fixtures/gen_conv_nn_fixtures.py):
// their case types, the parsed file, the Heed layer a case describes and loading a case's
// state. Shared by the CPU parity tests here and the WebGPU parity test of backend-webgpu.
import { readFileSync } from 'node:fs';
import type { Tensor } from '@heed/core';
import {
  AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, Flatten, GroupNorm, MaxPool1d, MaxPool2d,
  type BatchNormOptions, type ConvOptions, type ConvTransposeOptions, type Module,
} from '@heed/nn';
import { toTensor, type Enc } from './fixture-tensors.js';

/** One forward/backward case of a layer: config, state, input, upstream gradient and PyTorch's results. */
export interface LayerCase {
  name: string;
  layer: string;
  config: Record<string, unknown>;
  keys: string[];
  state: Record<string, Enc>;
  inputs: { x: Enc };
  upstream: Enc;
  output: Enc;
  inputGrads: { x: Enc };
  paramGrads: Record<string, Enc>;
}

/** One train or eval step of a BatchNorm case, with the state after it. */
export interface BatchNormStep {
  mode: 'train' | 'eval';
  input: Enc;
  upstream: Enc;
  output: Enc;
  inputGrad: Enc;
  paramGrads: Record<string, Enc>;
  stateAfter: Record<string, Enc>;
}

/** A BatchNorm case: several steps from one initial state. */
export interface BatchNormCase {
  name: string;
  layer: 'BatchNorm1d' | 'BatchNorm2d';
  config: BatchNormOptions & { numFeatures: number };
  keys: string[];
  state: Record<string, Enc>;
  steps: BatchNormStep[];
}

/** The whole fixture file. */
export const convFixture = JSON.parse(readFileSync(new URL('../fixtures/conv.json', import.meta.url), 'utf8')) as {
  conv: LayerCase[]; pool: LayerCase[]; norm: LayerCase[]; batchnorm: BatchNormCase[];
};

/** A layer with a one-tensor forward. */
export type FixtureLayer = Module & { forward(x: Tensor): Tensor };

/** Builds the Heed layer of a conv, pool, Flatten or GroupNorm case from its config (Heed's option names). */
export function buildLayer(c: Pick<LayerCase, 'layer' | 'config'>): FixtureLayer {
  const { in: inC, out: outC, kernelSize, outputSize, startDim, endDim, numGroups, numChannels, ...rest } = c.config as {
    in: number; out: number; kernelSize: number | number[]; outputSize: number | (number | null)[]; startDim?: number; endDim?: number;
    numGroups: number; numChannels: number;
  };
  switch (c.layer) {
    case 'Conv1d': return new Conv1d(inC, outC, kernelSize, rest as ConvOptions);
    case 'Conv2d': return new Conv2d(inC, outC, kernelSize, rest as ConvOptions);
    case 'ConvTranspose2d': return new ConvTranspose2d(inC, outC, kernelSize, rest as ConvTransposeOptions);
    case 'MaxPool1d': return new MaxPool1d(kernelSize, rest);
    case 'MaxPool2d': return new MaxPool2d(kernelSize, rest);
    case 'AvgPool1d': return new AvgPool1d(kernelSize, rest);
    case 'AvgPool2d': return new AvgPool2d(kernelSize, rest);
    case 'AdaptiveAvgPool2d': return new AdaptiveAvgPool2d(outputSize);
    case 'Flatten': return new Flatten(startDim, endDim);
    case 'GroupNorm': return new GroupNorm(numGroups, numChannels, rest);
    default: throw new Error(`unknown layer ${c.layer}`);
  }
}

/** Loads a case's state dict (strictly) into `m`, freeing the decoded tensors. */
export function loadState(m: Module, state: Record<string, Enc>): void {
  const dict = new Map(Object.entries(state).map(([k, e]) => [k, toTensor(e)]));
  m.loadStateDict(dict);
  for (const t of dict.values()) t.dispose();
}
