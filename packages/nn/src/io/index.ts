// SPDX-License-Identifier: MIT
// Public API of the I/O module: safetensors in memory (browser-safe), Node file helpers (their
// node: modules are imported dynamically, so bundles need no node:fs), and training checkpoints.
export {
  SAFETENSORS_DTYPES, isSafetensorsDType, f16BitsToFloat, floatToF16Bits, floatToBf16Bits,
  type SafetensorsDType, type SafetensorsDTypeSpec, type WritableDType, type Decoder,
} from './dtypes.js';
export {
  loadSafetensors, saveSafetensors, readSafetensorsHeader,
  type SafetensorsContents, type FloatDType, type SafetensorsEntry, type SafetensorsHeader, type SaveSafetensorsOptions,
} from './safetensors.js';
export { saveFile, loadFile, readFileBytes } from './node.js';
export { writeFileAtomic } from './atomic.js';
export {
  saveCheckpoint, loadCheckpoint, serializeCheckpoint, deserializeCheckpoint,
  type HasStateDict, type CheckpointOptimizer, type CheckpointScheduler, type CheckpointState, type CheckpointTargets,
  type CheckpointInfo, type JsonValue,
} from './checkpoint.js';
