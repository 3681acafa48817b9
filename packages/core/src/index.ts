// SPDX-License-Identifier: MIT
// Public entry point of @heed/core. Importing it has no side effects beyond installing the
// Tensor methods; backends are registered explicitly by the user.
// The reference makes the published .d.ts bring the lib that declares Symbol.dispose (`using`).
/// <reference lib="esnext.disposable" preserve="true" />
import './tensor-methods.js';

export * from './dtype.js';
export * from './int64.js';
export * from './errors.js';
export * from './validate.js';
export * from './backend.js';
export * from './random-bits.js';
export * from './registry.js';
export { DEFAULT_MAX_PENDING, LazyBackend, lazyBackendFactory, type LazyOptions, type LazyStats } from './lazy/lazy-backend.js';
export { onKernel, onKernelTimed, type Kernels, type KernelObserver, type KernelTimer, type KernelName, type FusedKernelName } from './kernel-dispatch.js';
export { profile, type Profile, type KernelProfile } from './profile.js';
export { PROGRAM_REDUCE_OPS, programId, programKey, programLevels, programSweeps, runMatmulThenProgram, runProgramByPrimitives, type EpilogueKernels, type ProgramSweep, type ElementwiseExpr, type ElementwiseProgram, type ProgramReduceOp } from './lazy/program.js';
export { Storage, storageStats, type BackendStats } from './storage.js';
export {
  type Shape, sizeOf, contiguousStrides, isContiguous, broadcastShapes, broadcastStrides, normalizeAxis, normalizeAxes,
} from './shape.js';
export { unravelIndex, coalesceDims, StridedWalker, type CoalescedDims } from './layout.js';
export { Tensor, type NestedArray } from './tensor.js';
export { setPrintOptions, getPrintOptions, type PrintOptions } from './format.js';
export {
  Scope, beginScope, endScope, tidy, tidyAsync, keep, type Scoped, createScope, withScope, asyncScopesIsolated,
} from './scope.js';
export { memory, checkLeaks, setWarnOnGC, type MemoryInfo } from './memory.js';
export { isGradEnabled, noGrad, enableGrad, setGradEnabled } from './autograd/mode.js';
export { type BackwardOptions } from './autograd/engine.js';
export { backward, grad, valueAndGrad, detach, customGrad, type ScalarFn } from './autograd/api.js';
export { type GradHook, type PostAccumulateGradHook, type RemovableHandle } from './autograd/hooks.js';
export { type OpAttrs, type OpName, type NoAttrs } from './autograd/record.js';
export { gradRules, type GradRule, type GradContext, type Rules } from './autograd/rules.js';
export { type TensorLike } from './ops/operands.js';
export * from './ops/creation.js';
export * from './ops/unary-math.js';
export * from './ops/binary-math.js';
export { where, cast, clamp, clone } from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/views.js';
export * from './ops/matmul.js';
export * from './ops/linear.js';
export * from './ops/join.js';
export * from './ops/indexing.js';
export { flip, roll, repeat, tile, tril, triu, maskedFill, diff, type DiffOptions } from './ops/reorder.js';
export * from './ops/scan.js';
export * from './ops/sorting.js';
export * from './ops/composites.js';
export * from './ops/activations.js';
export * from './ops/einsum.js';
export * from './ops/sampling.js';
export * from './ops/select.js';
export * from './ops/attention.js';
export * from './ops/conv.js';
export * from './ops/pool.js';
export * from './ops/move.js';
export * from './ops/optim.js';
export * from './random.js';
export { DEFAULT_MAX_TRACES, compile, type CompileOptions, type CompileStats, type CompiledFunction } from './compile/compile.js';
export { bucketLength, padToBucket } from './compile/bucket.js';
