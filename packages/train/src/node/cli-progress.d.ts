// SPDX-License-Identifier: MIT
// The part of npm `cli-progress` (which ships no types) that progress.ts uses. Internal: no
// public declaration of @heed/train mentions these types.
declare module 'cli-progress' {
  interface BarOptions {
    format?: string;
    barsize?: number;
    hideCursor?: boolean;
    stream?: NodeJS.WritableStream;
    etaBuffer?: number;
    fps?: number;
    clearOnComplete?: boolean;
  }
  interface Preset {
    barCompleteChar: string;
    barIncompleteChar: string;
  }
  class SingleBar {
    update(value: number, payload?: Record<string, string>): void;
  }
  class MultiBar {
    constructor(options: BarOptions, preset?: Preset);
    create(total: number, start: number, payload?: Record<string, string>): SingleBar;
    log(text: string): void;
    stop(): void;
  }
  const Presets: { shades_classic: Preset };
  const cliProgress: { MultiBar: typeof MultiBar; Presets: typeof Presets };
  export default cliProgress;
}
