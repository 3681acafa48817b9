// SPDX-License-Identifier: MIT
// Test support: a seeded synthetic "digits" data set. Each image is a 16x16 rendering of one
// of ten 5x7 pixel glyphs (0-9) with a random scale, shear, shift (up to ±2 px), contrast and
// Gaussian pixel noise, sampled bilinearly. Pure JavaScript, independent of Heed, so the
// same seed gives the same images on every backend and machine.

/** The ten glyphs, 7 rows of 5 pixels each ('1' = ink). */
const FONT: readonly (readonly string[])[] = [
  ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  ['11111', '00010', '00100', '00010', '00001', '10001', '01110'],
  ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
];

/** Image side length. */
export const GLYPH_SIZE = 16;

/** A seeded uniform [0, 1) stream (32-bit LCG, top 24 bits). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) / 16777216;
  };
}

function ink(glyph: readonly string[], row: number, col: number): number {
  if (row < 0 || row >= 7 || col < 0 || col >= 5) return 0;
  return glyph[row][col] === '1' ? 1 : 0;
}

/** Bilinear sample of a glyph at fractional (v, u) (row, column), 0 outside. */
function sample(glyph: readonly string[], v: number, u: number): number {
  const r = Math.floor(v);
  const c = Math.floor(u);
  const fv = v - r;
  const fu = u - c;
  return (1 - fv) * ((1 - fu) * ink(glyph, r, c) + fu * ink(glyph, r, c + 1)) +
    fv * ((1 - fu) * ink(glyph, r + 1, c) + fu * ink(glyph, r + 1, c + 1));
}

/**
 * `n` images `[n, 1, 16, 16]` (row-major Float32Array) and their labels (balanced, shuffled
 * by the seed), with noise of standard deviation `noise`.
 */
export function makeGlyphs(n: number, seed: number, noise = 0.2): { images: Float32Array; labels: Int32Array } {
  const rand = lcg(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const S = GLYPH_SIZE;
  const images = new Float32Array(n * S * S);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const label = Math.floor(rand() * 10);
    labels[k] = label;
    const glyph = FONT[label];
    const sy = 1.55 + 0.35 * rand(); // glyph height 7 * sy: 10.9 to 13.3 px
    const sx = 1.5 + 0.5 * rand();
    const shear = (rand() - 0.5) * 0.5;
    const oy = (S - 7 * sy) / 2 + (rand() * 4 - 2);
    const ox = (S - 5 * sx) / 2 + (rand() * 4 - 2);
    const contrast = 0.6 + 0.4 * rand();
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const v = (y - oy) / sy - 0.5;
        const u = (x - ox) / sx - 0.5 + shear * (v - 3);
        images[(k * S + y) * S + x] = contrast * sample(glyph, v, u) + noise * gauss();
      }
    }
  }
  return { images, labels };
}
