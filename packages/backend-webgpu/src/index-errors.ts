// SPDX-License-Identifier: MIT
// Device-side index checks, like CUDA's device asserts. A kernel cannot throw, so gather,
// indexSelect and scatterAdd kernels that meet an out-of-range index record it in one small
// error buffer (bound as group 1) and keep clamping their memory accesses. The runtime copies
// the error words out (and clears them) at the end of each submit that ran such kernels, and
// the first read or flush after that check came back throws a HeedError naming the op.
// Invariants: the first error of a submit wins (later ones in the same submit are not
// recorded); a site (the host's description of one checked dispatch) lives only until the
// check of its submit has come back, so nothing accumulates.
import { HeedError, fmtShape } from '@heed/core';

/** Words of the error buffer: [flag, dispatch tag, bad value (i32 bits), position 0, position 1, unused x3]. */
const ERROR_WORDS = 8;
/**
 * Bytes of the error words, as copied into a read's staging buffer.
 *
 * @example
 * ```ts
 * const staging = device.createBuffer({ size: dataBytes + ERROR_BYTES, usage });
 * ```
 */
export const ERROR_BYTES = ERROR_WORDS * 4;
/**
 * Metadata word that carries the dispatch tag of a checked dispatch (the last word of its
 * 256-byte slot; checked kernels use fewer metadata words than that).
 *
 * @example
 * ```ts
 * metaHost[slot * META_WORDS + TAG_WORD] = tag;
 * ```
 */
export const TAG_WORD = 63;
const STORAGE = 0x80;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;
const COMPUTE_STAGE = 0x4;

/**
 * WGSL of the error buffer and of `reportIndex(value, pos0, pos1)`, for kernels that bind it
 * (they must also declare `md`, the metadata slot, as every kernel does).
 *
 * @example
 * ```ts
 * const code = `${bindings}\n${INDEX_ERROR_WGSL}\nfn elem(i: u32) { if (bad) { reportIndex(v, i, 0u); } }`;
 * ```
 */
export const INDEX_ERROR_WGSL = /* wgsl */ `
@group(1) @binding(0) var<storage, read_write> indexErr: array<atomic<u32>, ${ERROR_WORDS}>;
fn reportIndex(value: i32, pos0: u32, pos1: u32) {
  if (atomicLoad(&indexErr[0]) == 0u && atomicExchange(&indexErr[0], 1u) == 0u) {
    atomicStore(&indexErr[1], md[${TAG_WORD}]);
    atomicStore(&indexErr[2], bitcast<u32>(value));
    atomicStore(&indexErr[3], pos0);
    atomicStore(&indexErr[4], pos1);
  }
}`;

/**
 * What the host knows about one checked dispatch, to turn the kernel's words into a message.
 *
 * @example
 * ```ts
 * const site: IndexSite = { op: 'gather', axis: 1, axisSize: 3, indexShape: [2, 2], context: 'input shape [2, 3]',
 *   position: (i) => unravelIndex(i, [2, 2]) };
 * ```
 */
export interface IndexSite {
  readonly op: string;
  readonly axis: number;
  readonly axisSize: number;
  readonly indexShape: readonly number[];
  /** The other tensor involved, e.g. `input shape [2, 3]`. */
  readonly context: string;
  /** The position in the index tensor from the kernel's two position words. */
  readonly position: (pos0: number, pos1: number) => number[];
}

/** An error found on the device, waiting for the next read or flush. */
export interface DeviceError {
  readonly op: string;
  readonly message: string;
}

/**
 * The copy-out of the error words at the end of one batch: where they land, and how to turn
 * them into an error once that buffer is mapped.
 *
 * @example
 * ```ts
 * const check = checks.encode(encoder, null);
 * device.queue.submit([encoder.finish()]);
 * const err = await check?.collect(check.staging.mapAsync(GPUMapMode.READ));
 * ```
 */
export interface IndexCheck {
  /** The staging buffer holding the words (a read's own, or one made for the check). */
  readonly staging: GPUBuffer;
  /** Whether `staging` belongs to the check (it is then unmapped and destroyed by `collect`). */
  readonly own: boolean;
  /** Decodes the words once `mapped` (the mapping of `staging`) has settled; null when none was set. */
  collect(mapped: Promise<unknown>): Promise<DeviceError | null>;
}

/**
 * The error buffer, its bind group and the sites of checked dispatches not yet checked.
 *
 * @example
 * ```ts
 * const checks = new IndexChecks(device);
 * checks.watch(tag, site);          // when recording a checked dispatch
 * const after = checks.encode(enc); // before finishing the batch's encoder
 * ```
 */
export class IndexChecks {
  /** Layout of bind group 1 (the error buffer) in the pipelines of checked kernels. */
  readonly layout: GPUBindGroupLayout;
  /** Bind group 1 of every checked dispatch. */
  readonly group: GPUBindGroup;
  private readonly buffer: GPUBuffer;
  private readonly sites = new Map<number, IndexSite>();
  /** Tags of checked dispatches in the batch being recorded. */
  private watched: number[] = [];

  /**
   * @param deviceFailed whether the device is already known to be lost or broken (then a check
   *   that cannot be read back is covered by that failure and not reported again).
   */
  constructor(private readonly device: GPUDevice, private readonly deviceFailed: () => boolean = () => false) {
    this.buffer = device.createBuffer({ size: ERROR_WORDS * 4, usage: STORAGE | COPY_SRC | COPY_DST });
    device.queue.writeBuffer(this.buffer, 0, new Uint32Array(ERROR_WORDS));
    this.layout = device.createBindGroupLayout({ entries: [{ binding: 0, visibility: COMPUTE_STAGE, buffer: { type: 'storage' } }] });
    this.group = device.createBindGroup({ layout: this.layout, entries: [{ binding: 0, resource: { buffer: this.buffer } }] });
  }

  /** Records that the dispatch tagged `tag` (being recorded in the current batch) checks its indices. */
  watch(tag: number, site: IndexSite): void {
    this.sites.set(tag, site);
    this.watched.push(tag);
  }

  /** Whether the batch being recorded has checked dispatches (a read then reserves room for the words). */
  get active(): boolean {
    return this.watched.length > 0;
  }

  /**
   * When the current batch has checked dispatches: appends the copy of the error words and
   * their reset to `encoder` (after every dispatch of the batch). The words go to `into` (a
   * read's staging buffer, at `ERROR_BYTES` before its end) or to a staging buffer of their own.
   * Null when nothing was checked.
   */
  encode(encoder: GPUCommandEncoder, into: GPUBuffer | null): IndexCheck | null {
    if (this.watched.length === 0) return null;
    const tags = this.watched;
    this.watched = [];
    const staging = into ?? this.device.createBuffer({ size: ERROR_BYTES, usage: MAP_READ | COPY_DST });
    const offset = staging.size - ERROR_BYTES;
    encoder.copyBufferToBuffer(this.buffer, 0, staging, offset, ERROR_BYTES);
    encoder.clearBuffer(this.buffer, 0, ERROR_BYTES);
    const own = into === null;
    return {
      staging,
      own,
      collect: async (mapped) => {
        try {
          await mapped;
          const words = new Uint32Array(staging.getMappedRange(offset, ERROR_BYTES).slice(0));
          return words[0] === 0 ? null : this.describe(words);
        } catch (e) {
          if (this.deviceFailed()) return null; // the lost device is what every later call reports
          const ops = [...new Set(tags.map((t) => this.sites.get(t)?.op ?? 'index'))].join(', ');
          return {
            op: ops,
            message: `the index check of this batch could not be read back (${e instanceof Error ? e.message : String(e)}), ` +
              'so its indices were not verified; rerun the op to check them.',
          };
        } finally {
          if (own) { staging.unmap(); staging.destroy(); }
          for (const t of tags) this.sites.delete(t);
        }
      },
    };
  }

  /** Drops the sites of a batch that will not be submitted (a recording that was abandoned). */
  forgetBatch(): void {
    for (const t of this.watched) this.sites.delete(t);
    this.watched = [];
  }

  private describe(words: Uint32Array): DeviceError {
    const tag = words[1];
    const value = words[2] | 0;
    const site = this.sites.get(tag);
    if (!site) return { op: 'index', message: `an out-of-range index (${value}) was found by dispatch #${tag}.` };
    const { op, axis, axisSize, indexShape, context } = site;
    const valid = axisSize === 0 ? `axis ${axis} has size 0, so no index is valid` : `valid indices are 0..${axisSize - 1}`;
    return {
      op,
      message: `index ${value} at index position ${fmtShape(site.position(words[3], words[4]))} is out of range for axis ${axis} ` +
        `of size ${axisSize} (${valid}; dispatch #${tag}, index shape ${fmtShape(indexShape)}, ${context}). ` +
        'Fix the index values (negative indices are not wrapped); clamp or mask them before this op. WebGPU kernels cannot ' +
        'throw, so the error is raised by the first read (or flush) after the op; its result holds clamped values.',
    };
  }

  /** Whether a site is still waiting for its check (for tests). */
  get pendingSites(): number {
    return this.sites.size;
  }

  destroy(): void {
    this.buffer.destroy();
    this.sites.clear();
  }
}

/**
 * Turns a device error into the HeedError thrown by a read or flush, noting how many later
 * failures were found before it was reported.
 *
 * @example
 * ```ts
 * throw toHeedError({ op: 'gather', message: 'index 4 ...' }, 0);
 * ```
 */
export function toHeedError(err: DeviceError, later: number): HeedError {
  const more = later > 0 ? ` (${later} later device error${later === 1 ? ' was' : 's were'} found before this one was reported.)` : '';
  return new HeedError(err.op, `${err.message}${more}`);
}
